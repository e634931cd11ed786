// The socket contract over each backend, on real loopback sockets: accept/connect/read/write,
// deadlines, cancellation, short writes through a tiny send buffer, peer close and reset,
// refused connects, address-in-use errors, IPv6, and many concurrent connections.
#include "io/socket.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <numeric>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "open_files.hpp"
#include "runtime/scheduler.hpp"

namespace echod::io {
namespace {

using namespace std::chrono_literals;
using runtime::clock;
using runtime::coroutine;
using runtime::scheduler;

class socket_test : public testing::backend_test {
 protected:
  static address loopback(const char* text = "127.0.0.1:0") { return *address::parse(text); }
  // A connected loopback pair, inside run(): `l` listens, `client` is connected to it and
  // `server` is the accepted end.
  static void open_pair(listener& l, stream& client, stream& server) {
    l = listener::open(loopback());
    ASSERT_EQ(stream::connect(l.local_address(), client), 0);
    ASSERT_EQ(l.accept(server), 0);
  }
};

TEST_P(socket_test, accept_connect_read_write_round_trip) {
  std::string received;
  std::string reply;
  run([&] {
    listener l = listener::open(loopback());
    const address at = l.local_address();
    scheduler::current()->spawn([&] {
      stream conn;
      ASSERT_EQ(l.accept(conn), 0);
      char buf[64];
      const io_result n = conn.read_some(buf, sizeof buf);
      ASSERT_GT(n, 0);
      received.assign(buf, static_cast<std::size_t>(n));
      ASSERT_EQ(conn.write_all("pong", 4), 4);
    });
    stream client;
    ASSERT_EQ(stream::connect(at, client), 0);
    ASSERT_EQ(client.write_all("ping", 4), 4);
    char buf[4];
    ASSERT_EQ(client.read_exact(buf, 4), 4);
    reply.assign(buf, 4);
  });
  EXPECT_EQ(received, "ping");
  EXPECT_EQ(reply, "pong");
}

TEST_P(socket_test, read_deadline_times_out_and_the_stream_stays_usable) {
  io_result first = 0;
  std::string later;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    char buf[16];
    const auto start = clock::now();
    first = server.read_some(buf, sizeof buf, start + 30ms);
    EXPECT_GE(clock::now() - start, 30ms);
    ASSERT_EQ(client.write_all("after", 5), 5);
    const io_result n = server.read_exact(buf, 5, clock::now() + 5s);
    ASSERT_EQ(n, 5);
    later.assign(buf, 5);
  });
  EXPECT_EQ(first, -ETIMEDOUT);
  EXPECT_EQ(later, "after");
}

TEST_P(socket_test, cancel_ends_a_blocked_read_and_later_io_refuses_to_start) {
  io_result blocked = 0;
  io_result after = 0;
  listener l;
  stream client;
  stream server;
  run([&] {
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    coroutine* reader = scheduler::current()->spawn([&] {
      char buf[16];
      blocked = server.read_some(buf, sizeof buf);
      after = server.read_some(buf, sizeof buf);
    });
    runtime::this_coroutine::sleep_for(10ms);
    scheduler::current()->cancel(reader);
  });
  EXPECT_EQ(blocked, -ECANCELED);
  EXPECT_EQ(after, -ECANCELED);
}

TEST_P(socket_test, a_second_reader_is_refused_with_ealready_and_the_first_still_reads) {
  io_result first = 0;
  io_result second = 0;
  std::string got;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    scheduler::current()->spawn([&] {
      char buf[8];
      first = server.read_some(buf, sizeof buf, clock::now() + 10s);
      if (first > 0) got.assign(buf, static_cast<std::size_t>(first));
    });
    runtime::this_coroutine::yield();  // the reader runs first and waits: nothing was sent yet
    char buf[8];
    second = server.read_some(buf, sizeof buf, clock::now() + 10s);
    ASSERT_EQ(client.write_all("ok", 2), 2);
    // The streams close when this body returns: keep them open until the reader is done.
    while (first == 0) runtime::this_coroutine::yield();
  });
  EXPECT_EQ(second, -EALREADY);
  EXPECT_EQ(first, 2);  // woken by the data, not left to time out
  EXPECT_EQ(got, "ok");
}

TEST_P(socket_test, expire_ends_a_blocked_read_as_a_timeout_and_later_io_works) {
  io_result blocked = 0;
  std::string later;
  listener l;
  stream client;
  stream server;
  run([&] {
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    coroutine* reader = scheduler::current()->spawn([&] {
      char buf[16];
      blocked = server.read_some(buf, sizeof buf, clock::now() + 1h);
      const io_result n = server.read_exact(buf, 5, clock::now() + 5s);
      if (n == 5) later.assign(buf, 5);
    });
    runtime::this_coroutine::sleep_for(10ms);
    scheduler::current()->expire(reader);
    runtime::this_coroutine::sleep_for(10ms);
    ASSERT_EQ(client.write_all("after", 5), 5);
  });
  EXPECT_EQ(blocked, -ETIMEDOUT);
  EXPECT_EQ(later, "after");
}

TEST_P(socket_test, cancel_ends_a_blocked_accept) {
  int result = 0;
  run([&] {
    listener l = listener::open(loopback());
    coroutine* acceptor = scheduler::current()->spawn([&] {
      stream s;
      result = l.accept(s);
    });
    runtime::this_coroutine::sleep_for(5ms);
    scheduler::current()->cancel(acceptor);
  });
  EXPECT_EQ(result, -ECANCELED);
}

// A reactor accepts only from listeners registered with it (listener::open registers on the
// thread that opens it; the server's acceptors call add_listener): not from a listening socket
// it was never told about, nor from one it was told to forget. A client waiting in the backlog
// is untouched and is accepted once the listener is registered.
TEST_P(socket_test, accept_takes_only_from_a_registered_listener) {
  int unregistered = 0, forgotten = 0, registered = -1, bad_fd = 0;
  std::string got;
  listener l = listener::open(loopback());  // no scheduler yet: not registered anywhere
  run([&] {
    stream client;
    ASSERT_EQ(stream::connect(l.local_address(), client, clock::now() + 10s), 0);
    ASSERT_EQ(client.write_all("queued", 6), 6);
    stream s;
    unregistered = l.accept(s, clock::now() + 10s);
    reactor& r = reactor::current();
    fd_slot no_socket;
    bad_fd = r.add_listener(no_socket, acceptors::one);
    ASSERT_EQ(r.add_listener(l.slot(), acceptors::one), 0);
    l.slot().forget();
    forgotten = l.accept(s, clock::now() + 10s);
    ASSERT_EQ(r.add_listener(l.slot(), acceptors::one), 0);
    ASSERT_EQ(r.add_listener(l.slot(), acceptors::one), 0);  // again: no change
    registered = l.accept(s, clock::now() + 10s);
    ASSERT_EQ(registered, 0);
    char buf[6];
    ASSERT_EQ(s.read_exact(buf, sizeof buf, clock::now() + 10s), 6);
    got.assign(buf, sizeof buf);
  });
  EXPECT_EQ(unregistered, -EINVAL);
  EXPECT_EQ(forgotten, -EINVAL);
  EXPECT_EQ(registered, 0);
  EXPECT_EQ(got, "queued");
  EXPECT_EQ(bad_fd, -EBADF);
}

TEST_P(socket_test, eight_mib_through_a_tiny_send_buffer_arrive_intact) {
  constexpr std::size_t total = 8u << 20;
  std::vector<unsigned char> payload(total);
  for (std::size_t i = 0; i < total; ++i) payload[i] = static_cast<unsigned char>(i * 131 + 7);
  std::vector<unsigned char> got;
  io_result written = 0;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    ASSERT_EQ(client.set_send_buffer(4096), 0);  // forces many short writes
    scheduler::current()->spawn([&] {
      written = client.write_all(payload.data(), payload.size());
      client.shutdown_write();
    });
    std::vector<unsigned char> buf(3000);
    for (;;) {
      const io_result n = server.read_some(buf.data(), buf.size());
      ASSERT_GE(n, 0);
      if (n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    }
  });
  EXPECT_EQ(written, static_cast<io_result>(total));
  EXPECT_TRUE(got == payload);
}

TEST_P(socket_test, peer_close_reads_as_end_of_stream) {
  io_result n = -1;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    scheduler::current()->spawn([&] {
      runtime::this_coroutine::sleep_for(5ms);
      client.close();
    });
    char buf[8];
    n = server.read_some(buf, sizeof buf);
  });
  EXPECT_EQ(n, 0);
}

TEST_P(socket_test, after_a_short_read_later_bytes_and_the_end_of_stream_still_arrive) {
  // A short read tells epoll's reactor the queue is empty, so its next read waits first: the
  // bytes and the FIN that come later must still wake it, and end of stream must stay readable.
  std::vector<io_result> reads;
  std::string later;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    ASSERT_EQ(client.write_all("ab", 2), 2);
    char buf[64];
    reads.push_back(server.read_some(buf, sizeof buf, clock::now() + 5s));
    scheduler::current()->spawn([&] {
      runtime::this_coroutine::sleep_for(10ms);
      client.write_all("cd", 2);
      runtime::this_coroutine::sleep_for(10ms);
      client.shutdown_write();
    });
    const io_result n = server.read_some(buf, sizeof buf, clock::now() + 5s);
    reads.push_back(n);
    if (n > 0) later.assign(buf, static_cast<std::size_t>(n));
    reads.push_back(server.read_some(buf, sizeof buf, clock::now() + 5s));
    reads.push_back(server.read_some(buf, sizeof buf, clock::now() + 5s));
  });
  EXPECT_EQ(reads, (std::vector<io_result>{2, 2, 0, 0}));
  EXPECT_EQ(later, "cd");
}

TEST_P(socket_test, a_short_read_that_leaves_only_the_fin_is_followed_by_end_of_stream) {
  // The bytes and the FIN arrive together while the reader waits: one readable edge for both,
  // spent on the read that takes the bytes, so the next read must not wait for another.
  std::vector<io_result> reads;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    scheduler::current()->spawn([&] {
      runtime::this_coroutine::sleep_for(10ms);
      client.write_all("ab", 2);
      client.shutdown_write();
    });
    char buf[64];
    reads.push_back(server.read_some(buf, sizeof buf, clock::now() + 5s));
    reads.push_back(server.read_some(buf, sizeof buf, clock::now() + 5s));
  });
  EXPECT_EQ(reads, (std::vector<io_result>{2, 0}));
}

TEST_P(socket_test, peer_reset_reads_as_econnreset_and_writes_fail) {
  io_result read_result = 0;
  io_result write_result = 0;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    ASSERT_EQ(client.set_reset_on_close(), 0);
    client.close();
    char buf[8];
    read_result = server.read_some(buf, sizeof buf);
    std::vector<char> big(1 << 20, 'x');
    write_result = server.write_all(big.data(), big.size());
  });
  EXPECT_EQ(read_result, -ECONNRESET);
  EXPECT_TRUE(write_result == -EPIPE || write_result == -ECONNRESET) << write_result;
}

TEST_P(socket_test, connect_to_a_closed_port_is_refused) {
  int result = 0;
  run([&] {
    address at;
    {
      listener l = listener::open(loopback());
      at = l.local_address();
    }  // closed: nothing listens there now
    stream s;
    result = stream::connect(at, s, clock::now() + 5s);
  });
  EXPECT_EQ(result, -ECONNREFUSED);
}

TEST_P(socket_test, binding_a_used_port_names_the_call_and_the_address) {
  run([&] {
    listener first = listener::open(loopback());
    const address at = first.local_address();
    try {
      listener::open(at);
      FAIL() << "second bind succeeded";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), EADDRINUSE);
      EXPECT_NE(std::string(e.what()).find("bind " + at.to_string()), std::string::npos)
          << e.what();
    }
  });
}

TEST_P(socket_test, reuse_port_lets_two_listeners_share_a_port) {
  run([&] {
    listen_options opts;
    opts.reuse_port = true;
    listener a = listener::open(loopback(), opts);
    listener b = listener::open(a.local_address(), opts);
    EXPECT_EQ(a.local_address().port(), b.local_address().port());
  });
}

TEST_P(socket_test, ipv6_loopback_round_trip) {
  bool have_v6 = true;
  std::string reply;
  run([&] {
    listener l;
    try {
      l = listener::open(loopback("[::1]:0"));
    } catch (const std::system_error&) {
      have_v6 = false;
      return;
    }
    scheduler::current()->spawn([&] {
      stream conn;
      ASSERT_EQ(l.accept(conn), 0);
      ASSERT_EQ(conn.write_all("v6", 2), 2);
    });
    stream client;
    ASSERT_EQ(stream::connect(l.local_address(), client), 0);
    char buf[2];
    ASSERT_EQ(client.read_exact(buf, 2), 2);
    reply.assign(buf, 2);
  });
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(reply, "v6");
}

TEST_P(socket_test, wait_readable_on_a_pipe) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  int result = -1;
  run([&] {
    scheduler::current()->spawn([&] {
      runtime::this_coroutine::sleep_for(5ms);
      ASSERT_EQ(write(fds[1], "x", 1), 1);
    });
    result = reactor::current().wait_readable(fds[0], clock::now() + 5s);
  });
  EXPECT_EQ(result, 0);
  close(fds[0]);
  close(fds[1]);
}

TEST_P(socket_test, a_thousand_concurrent_echo_connections) {
  constexpr int connections = 1000;
  // Both ends live in this process: two descriptors a connection, plus a margin.
  if (const auto limit = testing::raise_open_file_limit(); limit < 2 * connections + 100) {
    GTEST_SKIP() << "needs " << 2 * connections + 100 << " open files, the hard limit is " << limit;
  }
  int verified = 0;
  // Both outlive the coroutine that opens them, which ends before the ones it spawns run: the
  // acceptor uses `l`, the clients `at`. (A local of that coroutine would be a dead frame by then,
  // one that the TSan runtime's own calls on the same stack overwrite.)
  listener l;
  address at;
  run([&] {
    l = listener::open(loopback(), listen_options{.backlog = 2048});
    at = l.local_address();
    scheduler::current()->spawn([&] {
      for (int i = 0; i < connections; ++i) {
        auto conn = std::make_shared<stream>();
        // A deadline: clients that failed to connect make this a failure, not a hang.
        ASSERT_EQ(l.accept(*conn, clock::now() + 60s), 0);
        scheduler::current()->spawn([conn] {
          char buf[256];
          for (;;) {
            const io_result n = conn->read_some(buf, sizeof buf);
            if (n <= 0) return;
            if (conn->write_all(buf, static_cast<std::size_t>(n)) < 0) return;
          }
        });
      }
    });
    for (int i = 0; i < connections; ++i) {
      scheduler::current()->spawn([&, i] {
        stream s;
        ASSERT_EQ(stream::connect(at, s, clock::now() + 10s), 0);
        const std::string msg = "connection " + std::to_string(i);
        for (int round = 0; round < 3; ++round) {
          ASSERT_EQ(s.write_all(msg.data(), msg.size()), static_cast<io_result>(msg.size()));
          std::string back(msg.size(), '\0');
          ASSERT_EQ(s.read_exact(back.data(), back.size(), clock::now() + 10s),
                    static_cast<io_result>(msg.size()));
          ASSERT_EQ(back, msg);
        }
        ++verified;
      });
    }
  });
  EXPECT_EQ(verified, connections);
}

// Both backends hand out the same kind of socket: non-blocking (a direct syscall, such as a read
// of what is already there, never blocks the scheduler thread) and close-on-exec.
TEST_P(socket_test, accepted_and_connected_sockets_are_non_blocking_and_close_on_exec) {
  int accepted_fl = 0, accepted_fd = 0, connected_fl = 0, connected_fd = 0;
  ssize_t empty_read = 0;
  int empty_errno = 0;
  run([&] {
    listener l;
    stream client;
    stream server;
    ASSERT_NO_FATAL_FAILURE(open_pair(l, client, server));
    accepted_fl = fcntl(server.fd(), F_GETFL);
    accepted_fd = fcntl(server.fd(), F_GETFD);
    connected_fl = fcntl(client.fd(), F_GETFL);
    connected_fd = fcntl(client.fd(), F_GETFD);
    char buf[8];
    empty_read = ::recv(server.fd(), buf, sizeof buf, 0);  // nothing sent: must not wait
    empty_errno = errno;
    // And the stream still works through the reactor after that.
    ASSERT_EQ(client.write_all("flag", 4), 4);
    ASSERT_EQ(server.read_exact(buf, 4, clock::now() + 10s), 4);
    EXPECT_EQ(std::string(buf, 4), "flag");
  });
  ASSERT_GE(accepted_fl, 0);
  ASSERT_GE(connected_fl, 0);
  EXPECT_TRUE(accepted_fl & O_NONBLOCK);
  EXPECT_TRUE(accepted_fd & FD_CLOEXEC);
  EXPECT_TRUE(connected_fl & O_NONBLOCK);
  EXPECT_TRUE(connected_fd & FD_CLOEXEC);
  EXPECT_EQ(empty_read, -1);
  EXPECT_EQ(empty_errno, EAGAIN);
}

ECHOD_INSTANTIATE_BACKENDS(socket_test);

}  // namespace
}  // namespace echod::io
