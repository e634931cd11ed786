// echoload's driver over each backend against in-process services: a correct one yields zero
// errors; wrong ones are caught by class (mismatch, timeout, short, reset, connect); message
// quotas are exact; the open-loop rate holds within 2% and a stall shows up in its latencies;
// warm-up is excluded; large pipelined messages cannot deadlock; source addresses are used.
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "client/driver.hpp"
#include "client/limits.hpp"
#include "run_checks.hpp"
#include "temp_file.hpp"
#include "test_server.hpp"

namespace echod::client {
namespace {

using namespace std::chrono_literals;
using testing::server_behaviour;
using testing::test_server;

class load_test : public testing::backend_test {
 protected:
  options base(const test_server& server) const {
    options o = options_for(server, GetParam());
    o.connections = 8;
    o.duration = 300ms;
    o.duration_set = true;
    o.timeout = 2s;
    return o;
  }
};

TEST_P(load_test, a_correct_server_yields_zero_errors) {
  test_server server(GetParam(), server_behaviour::upper);
  const run_result r = run_load(base(server));
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  EXPECT_EQ(r.errors.total(), 0u) << diagnosis(r);
  EXPECT_GT(r.messages, 100u);
  EXPECT_EQ(r.latency.count(), r.messages);
  EXPECT_EQ(r.connections_opened, 8u);
  ASSERT_EQ(r.per_connection.size(), 8u);
  EXPECT_EQ(sum(r.per_connection), r.messages);
  for (auto n : r.per_connection) EXPECT_GT(n, 0u) << diagnosis(r);
  EXPECT_EQ(r.bytes_received, r.messages * 64);
  EXPECT_GE(r.bytes_sent, r.bytes_received);  // plus what was in flight at the end
  EXPECT_LE(r.bytes_sent, r.bytes_received + 8 * 64);
  EXPECT_NEAR(r.duration_s, 0.3, 0.01);
  EXPECT_GT(r.msgs_per_sec, 0);
  EXPECT_EQ(r.backend, io::backend_name(GetParam()));
}

TEST_P(load_test, a_server_that_does_not_uppercase_is_a_mismatch) {
  test_server server(GetParam(), server_behaviour::echo);
  const run_result r = run_load(base(server));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[error_class::mismatch], 8u);  // each connection stops at its first reply
  EXPECT_EQ(r.errors.total(), 8u);
  EXPECT_NE(r.error_examples[static_cast<std::size_t>(error_class::mismatch)].find("expected 0x"),
            std::string::npos);
}

TEST_P(load_test, expect_echo_accepts_an_echo_server) {
  test_server server(GetParam(), server_behaviour::echo);
  options o = base(server);
  o.expect = "echo";
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
}

TEST_P(load_test, a_dropped_byte_is_a_timeout) {
  test_server server(GetParam(), server_behaviour::drop_last_byte);
  options o = base(server);
  o.timeout = 150ms;
  o.duration = 2s;  // every connection gives up after 150 ms, which ends the run early
  const auto start = std::chrono::steady_clock::now();
  const run_result r = run_load(o);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[error_class::timeout], 8u);
  EXPECT_EQ(r.errors[error_class::mismatch], 0u);
  EXPECT_NE(r.error_examples[static_cast<std::size_t>(error_class::timeout)].find(
                "63 of 64 bytes of reply 0 received"),
            std::string::npos)
      << r.error_examples[static_cast<std::size_t>(error_class::timeout)];
}

TEST_P(load_test, a_close_mid_reply_is_a_short_reply) {
  test_server server(GetParam(), server_behaviour::close_mid_reply);
  const run_result r = run_load(base(server));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[error_class::short_reply], 8u);
  EXPECT_EQ(r.errors.total(), 8u);
}

TEST_P(load_test, a_reset_is_counted_as_one) {
  test_server server(GetParam(), server_behaviour::reset);
  const run_result r = run_load(base(server));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.errors[error_class::reset], 8u);
  EXPECT_EQ(r.errors.total(), 8u);
}

TEST_P(load_test, a_refused_connection_is_a_connect_error) {
  std::string target;
  {
    test_server gone(GetParam(), server_behaviour::upper);
    target = gone.target();
  }
  options o;
  o.target = target;
  o.backend = GetParam();
  o.connections = 4;
  o.progress = "off";
  const run_result r = run_load(o);
  EXPECT_EQ(r.errors[error_class::connect], 4u);
  EXPECT_EQ(r.connections_opened, 0u);
  EXPECT_NE(r.error_examples[0].find("connect to " + target + ": Connection refused"),
            std::string::npos)
      << r.error_examples[0];
}

TEST_P(load_test, a_message_quota_is_exact_and_shared_evenly) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.duration_set = false;
  o.messages = 1000;
  o.pipeline = 4;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.messages, 1000u);
  for (auto n : r.per_connection) EXPECT_EQ(n, 125u);
  EXPECT_EQ(server.bytes_received(), 1000u * 64);  // nothing sent beyond the quota
}

TEST_P(load_test, warm_up_is_excluded) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.duration_set = false;
  o.messages = 400;
  o.warmup = 200ms;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.messages, 400u);
  EXPECT_GT(server.bytes_received(), 1000u * 64);  // the warm-up's messages were not counted
}

TEST_P(load_test, pipelined_large_messages_do_not_deadlock) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.connections = 2;
  o.size = 1 << 20;
  o.pipeline = 3;
  o.duration_set = false;
  o.messages = 24;
  o.payload = "random";
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << r.error_examples[static_cast<std::size_t>(error_class::timeout)];
  EXPECT_EQ(r.messages, 24u);
  EXPECT_EQ(r.bytes_received, 24u << 20);
}

TEST_P(load_test, deep_pipelines_are_written_in_bursts_and_every_reply_verified) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.connections = 2;
  o.size = 1000;     // 65 messages fit one 64 KiB burst: bursts are cut mid-pipeline
  o.pipeline = 100;  // 100 KB in flight: past the drain threshold as well
  o.duration_set = false;
  o.messages = 3000;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << r.error_examples[static_cast<std::size_t>(error_class::mismatch)];
  EXPECT_EQ(r.messages, 3000u);
  EXPECT_EQ(server.bytes_received(), 3000u * 1000);
}

TEST_P(load_test, open_loop_rate_holds_within_two_percent) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.connections = 10;
  o.rate = 2000;
  o.duration = 2s;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok());
  EXPECT_NEAR(static_cast<double>(r.messages), 4000.0, 80.0);
  EXPECT_NEAR(r.msgs_per_sec, 2000.0, 40.0);
  const fairness_stats f = fairness_of(r.per_connection);
  EXPECT_GE(f.min, 395u);
  EXPECT_LE(f.max, 401u);
}

TEST_P(load_test, open_loop_latency_counts_a_stall_from_the_intended_send_time) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.connections = 10;
  o.rate = 1000;
  o.duration_set = false;
  o.messages = 1200;  // a count, not a duration: a busy machine delays the end, never the verdict
  std::thread staller([&] {
    std::this_thread::sleep_for(400ms);
    server.stall(200ms);
  });
  const run_result r = run_load(o);
  staller.join();
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.messages, 1200u);
  // The ~200 messages due during the stall waited up to 200 ms: far more than the ten that
  // were in flight, which is all a closed-loop measurement would have seen.
  EXPECT_GE(r.latency.percentile(99), 150'000'000u);
  EXPECT_GE(r.latency.percentile(95), 20'000'000u);
  EXPECT_GE(r.latency.max(), 180'000'000u);
  // Open loop keeps to the schedule: the backlog is caught up, never sent ahead of its time.
  EXPECT_GE(r.duration_s, 1.15);
}

TEST_P(load_test, connections_spread_over_source_addresses) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.source = {"127.0.0.2", "127.0.0.3"};
  o.duration = 100ms;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << r.error_examples[0];
  EXPECT_EQ(server.peers(), (std::set<std::string>{"127.0.0.2", "127.0.0.3"}));
}

TEST_P(load_test, connect_rate_ramps_up) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.connect_rate = 20;  // 8 connections over 350 ms
  o.duration = 200ms;
  const run_result r = run_load(o);
  EXPECT_EQ(r.errors.total(), 0u);
  EXPECT_LT(r.connections_opened, 8u);  // the last ones were still waiting their turn
  EXPECT_GE(r.connections_opened, 3u);
}

TEST_P(load_test, interruption_ends_the_run_early) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.duration = 30s;
  std::atomic<bool> stop{false};
  std::thread interrupter([&] {
    std::this_thread::sleep_for(200ms);
    stop = true;
  });
  const auto start = std::chrono::steady_clock::now();
  const run_result r = run_load(o, run_hooks{.interrupted = &stop, .on_progress = {}});
  interrupter.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  // The window ends at the interruption (polled every 100 ms), however late this thread runs.
  EXPECT_GE(r.duration_s, 0.19);
  EXPECT_LT(r.duration_s, 1.0);
}

ECHOD_INSTANTIATE_BACKENDS(load_test);

TEST(limits, too_many_connections_for_the_open_file_limit_name_it) {
  const auto files = check_open_files(100'000'000, 20);
  ASSERT_FALSE(files.ok());
  const std::string& why = files.error();
  EXPECT_NE(why.find("100000000 connections need 100000000 open files"), std::string::npos) << why;
  EXPECT_NE(why.find("the limit here is "), std::string::npos);
  EXPECT_NE(why.find("ulimit -n"), std::string::npos);
  EXPECT_TRUE(check_open_files(10, 20).ok());
}

TEST(limits, too_many_connections_for_the_local_ports_suggest_source) {
  if (!local_port_range()) GTEST_SKIP() << "no /proc/sys/net/ipv4/ip_local_port_range";
  const auto ports = check_local_ports(1'000'000, 0);
  ASSERT_FALSE(ports.ok());
  EXPECT_NE(ports.error().find("--source"), std::string::npos) << ports.error();
  EXPECT_TRUE(check_local_ports(1'000'000, 1000).ok());
  EXPECT_NE(ports_exhausted_hint().find("--source"), std::string::npos);
}

TEST(driver, io_uring_demanded_but_missing_is_a_setup_error) {
  if (io::probe_io_uring().usable) GTEST_SKIP() << "io_uring is available here";
  options o;
  o.target = "127.0.0.1:9";
  o.backend = config::backend_kind::io_uring;
  EXPECT_THROW(run_load(o), setup_error);
}

TEST(driver, an_unreadable_payload_file_is_a_setup_error) {
  options o;
  o.target = "127.0.0.1:9";
  o.payload = "file:/nonexistent/payload";
  EXPECT_THROW(run_load(o), setup_error);
}

TEST(driver, a_file_payload_with_a_different_size_is_a_setup_error) {
  const testing::temp_file file("hello");
  options o;
  o.target = "127.0.0.1:9";
  o.payload = "file:" + file.path();
  o.size = 64;
  o.size_set = true;
  try {
    run_load(o);
    ADD_FAILURE() << "no error";
  } catch (const setup_error& e) {
    EXPECT_NE(std::string(e.what()).find("which is 5 bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace echod::client
