// Slow clients cannot hold echod, on the real binary over each backend: the HTTP head, body and
// keep-alive deadlines end a client that trickles bytes however regularly they arrive (and count
// it by kind), and overload protection evicts idle connections oldest-first so that a new client
// is served while 1,100 idle and trickling connections want a thread's 1,000 slots.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"
#include "open_files.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

class slow_client_test : public backend_test {
 protected:
  /// One worker with one thread on this test's backend, plus `extra` arguments.
  std::unique_ptr<echod_process> start(std::vector<std::string> extra) {
    auto args = base_args(GetParam());
    for (const char* a : {"--set", "processes=1", "--set", "threads=1"}) args.emplace_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    auto e = std::make_unique<echod_process>(std::move(args));
    EXPECT_NE(e->port(), 0) << e->log();
    EXPECT_TRUE(e->wait_workers(1)) << e->log();
    return e;
  }

  /// Waits (via SIGUSR1) for a stats line matching `pattern`, e.g. "header timeout 1,".
  static bool wait_stats(echod_process& e, const std::string& pattern) {
    for (int i = 0; i < 50; ++i) {
      e.proc().signal(SIGUSR1);
      if (e.wait_log("stats: .*" + pattern, 200ms)) return true;
    }
    return false;
  }

  /// Sends `step` every `period` until the server ends the connection (or `limit` passes);
  /// how long the connection lasted, from the call.
  static steady::duration trickle(client& c, const std::string& step,
                                  std::chrono::milliseconds period, steady::duration limit) {
    const auto start = steady::now();
    while (steady::now() - start < limit) {
      if (c.readable_within(period)) break;  // EOF (or a reply we did not ask for)
      if (!c.send_all(step)) break;
    }
    return steady::now() - start;
  }
};

TEST_P(slow_client_test, the_http_header_deadline_is_not_stretched_by_trickled_bytes) {
  auto e = start({"--set", "service=http", "--set", "http.header_timeout=1s"});
  client c(e->port());
  ASSERT_TRUE(c.send_all("GET /slow HTTP/1.1\r\nX-Trickle: "));
  // A byte every 100 ms: far inside idle_timeout (300 s), yet the head must be done in 1 s.
  const auto lasted = trickle(c, "x", 100ms, 10s);
  EXPECT_GE(lasted, 800ms);
  EXPECT_LT(lasted, 5s) << "the trickling head kept the connection";
  EXPECT_EQ(c.recv_until_eof(), "") << "closed without a response";
  EXPECT_TRUE(wait_stats(*e, "header timeout 1, body timeout 0")) << e->log();

  // The deadline is per request: one that arrives whole is answered, again and again.
  client fast(e->port());
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(400ms);  // 1.2 s in all: beyond one header_timeout
    ASSERT_TRUE(fast.send_all("GET /fast HTTP/1.1\r\n\r\n"));
    const std::string reply = fast.recv_exact(17);
    EXPECT_EQ(reply, "HTTP/1.1 200 OK\r\n") << "request " << i;
    std::string rest;
    while (rest.find("/FAST") == std::string::npos && rest.size() < 1000) {
      const std::string more = fast.recv_exact(1);
      if (more.empty()) break;
      rest += more;
    }
  }
}

TEST_P(slow_client_test, an_http_body_must_keep_up_the_minimum_rate) {
  auto e = start({"--set", "service=http", "--set", "http.body_timeout=1s", "--set",
                  "http.body_min_rate=1KiB"});
  // A whole 100 kB body at loopback speed is answered.
  client fast(e->port());
  const std::string body(100000, 'b');
  ASSERT_TRUE(fast.send_all(
      "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n" + body));
  bool clean = false;
  const std::string reply = fast.recv_until_eof(&clean);
  EXPECT_TRUE(clean);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find(std::string(100000, 'B')), std::string::npos);

  // 500 B/s: under 1 KiB/s, so 1 s + 1 s per KiB received runs out after about 2 s. A busy
  // machine trickles slower and so earns less credit (250 B/s ends at about 1.3 s), but without
  // the credit per KiB the connection would end at the 1 s base.
  client slow(e->port());
  ASSERT_TRUE(slow.send_all("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"));
  const auto lasted = trickle(slow, std::string(50, 'b'), 100ms, 15s);
  EXPECT_GE(lasted, 1200ms);
  EXPECT_LT(lasted, 8s) << "the trickling body kept the connection";
  EXPECT_TRUE(wait_stats(*e, "header timeout 0, body timeout 1,")) << e->log();
}

TEST_P(slow_client_test, the_http_keepalive_timeout_ends_an_idle_session_with_eof) {
  auto e = start({"--set", "service=http", "--set", "http.keepalive_timeout=500ms"});
  client c(e->port());
  ASSERT_TRUE(c.send_all("GET /once HTTP/1.1\r\n\r\n"));
  const auto sent = steady::now();
  bool clean = false;
  const std::string replies = c.recv_until_eof(&clean);
  const auto lasted = steady::now() - sent;
  EXPECT_TRUE(clean) << "ended in an error, not EOF";
  EXPECT_NE(replies.find("/ONCE"), std::string::npos) << replies;
  EXPECT_GE(lasted, 400ms);
  EXPECT_LT(lasted, 5s);
  EXPECT_TRUE(wait_stats(*e, "other 0; closed: keep-alive timeout 1, overload 0")) << e->log();
}

// ---- overload ----

TEST_P(slow_client_test, a_full_thread_closes_its_oldest_idle_connections_for_new_clients) {
  auto e = start({"--set", "coroutines=3"});  // overload.idle_grace: 1 s
  client oldest(e->port());
  ASSERT_TRUE(oldest.round_trip("first"));
  client older(e->port());
  ASSERT_TRUE(older.round_trip("second"));
  client busy(e->port());
  ASSERT_TRUE(busy.round_trip("third"));
  std::atomic<bool> done{false};
  std::atomic<int> busy_failures{0};
  std::thread active([&] {
    while (!done.load()) {
      if (!busy.round_trip("never idle for long")) ++busy_failures;
      std::this_thread::sleep_for(20ms);
    }
  });
  // All three slots are taken: the fresh client waits in the backlog until the oldest idle
  // connection is closed; it then takes the last slot, and the next oldest idle one goes too
  // (the thread is full again); the busy one and the fresh one stay.
  client fresh(e->port());
  EXPECT_TRUE(fresh.round_trip("fourth")) << e->log();  // not ASSERT: `active` must be joined
  bool clean = false;
  EXPECT_EQ(oldest.recv_until_eof(&clean), "");
  EXPECT_TRUE(clean) << "the evicted connection did not end with EOF";
  EXPECT_EQ(older.recv_until_eof(&clean), "");
  EXPECT_TRUE(clean);
  EXPECT_TRUE(wait_stats(*e, "overload 2\\b")) << e->log();
  std::this_thread::sleep_for(2s);  // twice the grace: nothing else is closed
  EXPECT_TRUE(fresh.round_trip("spared: the thread is no longer full"));
  done = true;
  active.join();
  EXPECT_EQ(busy_failures.load(), 0);
}

// 1,100 connections (plus reconnections) against 1,000 slots: half silent, half sending a byte
// every 2 s (an idle gap longer than overload.idle_grace). Each that ends reconnects at once.
class crowd {
 public:
  crowd(int port, std::size_t n, std::string opening, std::string step)
      : port_(port), opening_(std::move(opening)), step_(std::move(step)), conns_(n) {
    for (std::size_t i = 0; i < n; ++i) connect(i);
    worker_ = std::thread([this] { run(); });
  }
  ~crowd() {
    done_ = true;
    worker_.join();
  }
  std::size_t reconnects() const { return reconnects_.load(); }

 private:
  void connect(std::size_t i) {
    conns_[i] = client(port_, 2s);
    if (conns_[i].connected() && !opening_.empty()) conns_[i].send_all(opening_);
  }
  void run() {
    std::vector<pollfd> fds(conns_.size());
    auto next_step = steady::now();
    std::size_t round = 0;
    while (!done_.load()) {
      for (std::size_t i = 0; i < conns_.size(); ++i) fds[i] = {conns_[i].fd(), POLLIN, 0};
      ::poll(fds.data(), fds.size(), 50);
      for (std::size_t i = 0; i < conns_.size() && !done_.load(); ++i) {
        if (fds[i].fd >= 0 && fds[i].revents == 0) continue;
        char sink[4096];
        const ssize_t n = fds[i].fd < 0 ? 0 : ::recv(fds[i].fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0 || (n < 0 && errno == EAGAIN)) continue;  // a reply to a trickled byte
        connect(i);
        ++reconnects_;
      }
      if (steady::now() >= next_step) {
        // Every 2 s, one tenth of the time apart, the odd ones each send one step.
        for (std::size_t i = 1 + 2 * (round % 10); i < conns_.size(); i += 20) {
          if (conns_[i].connected())
            ::send(conns_[i].fd(), step_.data(), step_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        ++round;
        next_step += 200ms;
      }
    }
  }

  int port_;
  std::string opening_, step_;
  std::vector<client> conns_;
  std::atomic<bool> done_{false};
  std::atomic<std::size_t> reconnects_{0};
  std::thread worker_;
};

TEST_P(slow_client_test,
       a_new_client_is_served_while_1100_idle_and_trickling_clients_want_1000_slots) {
  ASSERT_GE(raise_open_file_limit(), 4000u);
  auto e = start({"--set", "coroutines=1000"});
  crowd attackers(e->port(), 1100, "", "x");
  ASSERT_TRUE(wait_stats(*e, "accepted 1\\d\\d\\d,")) << e->log();
  for (int i = 0; i < 3; ++i) {
    const auto start = steady::now();
    client c(e->port(), 10s);
    ASSERT_TRUE(c.round_trip("let me in " + std::to_string(i))) << e->log();
    EXPECT_LT(steady::now() - start, 5s);
  }
  EXPECT_TRUE(wait_stats(*e, "overload [1-9]")) << e->log();
}

TEST_P(slow_client_test, a_new_http_client_is_served_while_1100_clients_trickle_headers) {
  ASSERT_GE(raise_open_file_limit(), 4000u);
  auto e = start({"--set", "coroutines=1000", "--set", "service=http"});
  crowd attackers(e->port(), 1100, "GET / HTTP/1.1\r\nX-Slow: ", "x");
  ASSERT_TRUE(wait_stats(*e, "accepted 1\\d\\d\\d,")) << e->log();
  for (int i = 0; i < 3; ++i) {
    const auto start = steady::now();
    client c(e->port(), 10s);
    ASSERT_TRUE(c.send_all("GET /in HTTP/1.1\r\nConnection: close\r\n\r\n"));
    bool clean = false;
    const std::string reply = c.recv_until_eof(&clean);
    EXPECT_TRUE(clean);
    EXPECT_NE(reply.find("/IN"), std::string::npos) << "request " << i << ": " << reply;
    EXPECT_LT(steady::now() - start, 5s);
  }
  EXPECT_TRUE(wait_stats(*e, "overload [1-9]")) << e->log();
}

ECHOD_INSTANTIATE_BACKENDS(slow_client_test);

}  // namespace
}  // namespace echod::testing
