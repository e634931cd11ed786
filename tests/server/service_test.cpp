// What clients of the real echod binary see, over each backend: byte-exact uppercase of every
// byte value, multi-MiB payloads on several connections read while they are written, one-byte
// writes, pipelining, half-close, 500+ concurrent clients, the echo and http services, the
// capacity bound (coroutines per thread), the idle timeout, and a bad client that hurts no one.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

class service_test : public backend_test {
 protected:
  /// echod on this test's backend, plus `extra` arguments; fails the test if it does not listen.
  std::unique_ptr<echod_process> start(std::vector<std::string> extra = {}) {
    auto args = base_args(GetParam());
    args.insert(args.end(), extra.begin(), extra.end());
    auto e = std::make_unique<echod_process>(std::move(args));
    EXPECT_NE(e->port(), 0) << e->log();
    return e;
  }

  static void expect_clean_stop(echod_process& e) {
    const auto status = e.stop(SIGTERM, 10s);
    ASSERT_TRUE(status.has_value()) << "echod did not stop\n" << e.log();
    EXPECT_EQ(describe_status(*status), "exited 0") << e.log();
  }
};

TEST_P(service_test, uppercases_all_256_byte_values_exactly_like_python) {
  auto e = start({"--set", "processes=1"});
  std::string all;
  for (int round = 0; round < 4; ++round) {
    for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  }
  client c(e->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(all));
  const std::string reply = c.recv_exact(all.size());
  ASSERT_EQ(reply.size(), all.size());
  for (int b = 0; b < 256; ++b) {
    const char want = b >= 'a' && b <= 'z' ? static_cast<char>(b - 32) : static_cast<char>(b);
    ASSERT_EQ(reply[static_cast<std::size_t>(b)], want) << "byte " << b;
  }
  EXPECT_EQ(reply, python_upper(all));
  expect_clean_stop(*e);
}

TEST_P(service_test, four_mib_payloads_on_four_connections_read_while_written) {
  auto e = start({"--set", "processes=2", "--set", "threads=2"});
  constexpr std::size_t size = 4u << 20;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (unsigned i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      const std::string payload = random_bytes(size, 100 + i);
      client c(e->port(), 20s);
      if (!c.connected()) return;
      // Written and read at once: neither side's buffers could hold 4 MiB, so writing first and
      // reading after would deadlock.
      std::thread writer([&] {
        c.send_all(payload);
        c.shutdown_write();
      });
      bool clean = false;
      const std::string reply = c.recv_until_eof(&clean);
      writer.join();
      if (clean && reply == python_upper(payload)) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 4);
  expect_clean_stop(*e);
}

TEST_P(service_test, one_byte_writes_each_get_their_reply) {
  auto e = start({"--set", "processes=1"});
  client c(e->port());
  ASSERT_TRUE(c.connected());
  const int one = 1;
  setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string text = random_bytes(2000, 7);
  std::string replies;
  std::thread reader([&] { replies = c.recv_exact(text.size()); });
  for (char ch : text) ASSERT_TRUE(c.send_all(std::string(1, ch)));
  reader.join();
  EXPECT_EQ(replies, python_upper(text));
  // And strictly one at a time: each reply arrives before the next byte is sent.
  for (int i = 0; i < 200; ++i) {
    const std::string b(1, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(c.round_trip(b)) << "at " << i;
  }
  expect_clean_stop(*e);
}

TEST_P(service_test, pipelined_messages_of_mixed_sizes_come_back_in_order) {
  auto e = start({"--set", "processes=1", "--set", "buffer_size=512"});
  client c(e->port());
  ASSERT_TRUE(c.connected());
  std::string all;
  for (unsigned i = 0; i < 200; ++i) all += random_bytes(1 + (i * 37) % 3000, i);
  std::string reply;
  std::thread reader([&] { reply = c.recv_exact(all.size()); });
  ASSERT_TRUE(c.send_all(all));  // no waiting between messages: they coalesce and split anyhow
  reader.join();
  EXPECT_EQ(reply, python_upper(all));
  expect_clean_stop(*e);
}

TEST_P(service_test, half_close_gets_every_remaining_reply_then_eof) {
  auto e = start({"--set", "processes=1"});
  client c(e->port());
  ASSERT_TRUE(c.connected());
  const std::string payload = random_bytes(300 * 1024, 3);
  ASSERT_TRUE(c.send_all(payload.substr(0, 100 * 1024)));
  std::string reply;
  bool clean = false;
  std::thread reader([&] { reply = c.recv_until_eof(&clean); });
  ASSERT_TRUE(c.send_all(payload.substr(100 * 1024)));
  c.shutdown_write();
  reader.join();
  EXPECT_TRUE(clean) << "the reply ended in an error, not EOF";
  EXPECT_EQ(reply, python_upper(payload));
  expect_clean_stop(*e);
}

TEST_P(service_test, six_hundred_concurrent_clients_each_get_their_own_replies) {
  auto e = start({"--set", "processes=2", "--set", "threads=2"});
  constexpr int clients_total = 600;
  constexpr int threads = 6;
  std::atomic<int> verified{0};
  std::atomic<int> connected{0};
  std::latch all_open(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<client> mine;
      for (int i = t; i < clients_total; i += threads) {
        mine.emplace_back(e->port());
        if (mine.back().connected()) ++connected;
      }
      // All 600 are open before anyone talks: they are served concurrently, not one by one.
      all_open.arrive_and_wait();
      for (int round = 0; round < 3; ++round) {
        for (std::size_t k = 0; k < mine.size(); ++k) {
          const std::string msg =
              "Thread-" + std::to_string(t + static_cast<int>(k) * threads) + " say hello";
          if (!mine[k].send_all(msg)) return;
        }
        for (std::size_t k = 0; k < mine.size(); ++k) {
          const std::string msg =
              "Thread-" + std::to_string(t + static_cast<int>(k) * threads) + " say hello";
          if (mine[k].recv_exact(msg.size()) != python_upper(msg)) return;
          if (round == 2) ++verified;
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(connected.load(), clients_total);
  EXPECT_EQ(verified.load(), clients_total);
  expect_clean_stop(*e);
}

TEST_P(service_test, echo_service_returns_every_byte_unchanged) {
  auto e = start({"--set", "processes=1", "--set", "service=echo"});
  client c(e->port());
  ASSERT_TRUE(c.connected());
  const std::string payload = random_bytes(256 * 1024, 11) + "lower case stays lower";
  std::string reply;
  std::thread reader([&] { reply = c.recv_exact(payload.size()); });
  ASSERT_TRUE(c.send_all(payload));
  reader.join();
  EXPECT_EQ(reply, payload);
  expect_clean_stop(*e);
}

TEST_P(service_test, http_service_answers_get_post_and_pipelined_requests) {
  auto e = start({"--set", "processes=1", "--set", "service=http"});
  client c(e->port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("GET /hello%20world HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string get_reply = "HTTP/1.1 200 OK\r\n";
  std::string head = c.recv_exact(get_reply.size());
  EXPECT_EQ(head, get_reply);
  // The rest of the first response: headers, then the body "/HELLO WORLD".
  std::string rest;
  while (rest.find("/HELLO WORLD") == std::string::npos) {
    const std::string more = c.recv_exact(1);
    ASSERT_EQ(more.size(), 1u) << "got: " << rest;
    rest += more;
  }
  EXPECT_NE(rest.find("text/plain"), std::string::npos) << rest;

  // POST and a pipelined pair in one write; then a bad request ends the connection.
  ASSERT_TRUE(
      c.send_all("POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello there"
                 "POST /y HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                 "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n"));
  bool clean = false;
  const std::string replies = c.recv_until_eof(&clean);
  EXPECT_TRUE(clean);
  const auto a = replies.find("HELLO THERE");
  const auto b = replies.find("ABC");
  const auto last = replies.find("/LAST");
  ASSERT_NE(a, std::string::npos) << replies;
  ASSERT_NE(b, std::string::npos) << replies;
  ASSERT_NE(last, std::string::npos) << replies;
  EXPECT_LT(a, b);
  EXPECT_LT(b, last);

  client bad(e->port());
  ASSERT_TRUE(bad.send_all("NONSENSE\r\n\r\n"));
  const std::string error = bad.recv_until_eof();
  EXPECT_EQ(error.rfind("HTTP/1.1 400", 0), 0u) << error;
  expect_clean_stop(*e);
}

TEST_P(service_test, a_full_thread_accepts_the_next_client_only_when_one_leaves) {
  // Without overload protection, which would close an idle one after a second to make room.
  auto e = start({"--set", "processes=1", "--set", "threads=1", "--set", "coroutines=2", "--set",
                  "overload.enabled=false"});
  client a(e->port());
  client b(e->port());
  ASSERT_TRUE(a.round_trip("first"));
  ASSERT_TRUE(b.round_trip("second"));
  client c(e->port());  // connect() succeeds: the kernel backlog holds it
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all("third"));
  EXPECT_FALSE(c.readable_within(400ms)) << "served beyond the capacity of 2";
  EXPECT_TRUE(b.round_trip("still served"));
  a.close();
  ASSERT_TRUE(c.readable_within(5s)) << "not served after a slot was freed";
  EXPECT_EQ(c.recv_exact(5), "THIRD");
  expect_clean_stop(*e);
}

TEST_P(service_test, idle_timeout_closes_an_idle_client_and_spares_the_busy_one) {
  auto e = start({"--set", "processes=1", "--set", "idle_timeout=300ms"});
  client idle(e->port());
  client busy(e->port());
  ASSERT_TRUE(idle.connected());
  ASSERT_TRUE(busy.round_trip("warm up"));
  const auto start_time = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {  // 800 ms of traffic, a message every 100 ms
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(busy.round_trip("tick " + std::to_string(i)));
  }
  bool clean = false;
  EXPECT_EQ(idle.recv_until_eof(&clean), "");
  EXPECT_TRUE(clean) << "the idle client was not closed with EOF";
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 3s);
  expect_clean_stop(*e);
}

TEST_P(service_test, a_client_that_resets_mid_stream_hurts_no_other_connection) {
  auto e = start({"--set", "processes=1", "--set", "threads=1"});
  client good(e->port());
  ASSERT_TRUE(good.round_trip("before"));
  for (int i = 0; i < 20; ++i) {
    client bad(e->port());
    ASSERT_TRUE(bad.send_all(random_bytes(512 * 1024, static_cast<unsigned>(i))));
    bad.reset();  // RST while the server still has replies to write
  }
  EXPECT_TRUE(good.round_trip("after the resets"));
  client fresh(e->port());
  EXPECT_TRUE(fresh.round_trip("new connections too"));
  expect_clean_stop(*e);
}

ECHOD_INSTANTIATE_BACKENDS(service_test);

}  // namespace
}  // namespace echod::testing
