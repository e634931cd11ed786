// Connection churn and the timeline over each backend against the in-process server: with
// --messages-per-connection the message and connection counts are exact (the server counts its
// accepts), fairness counts per slot, connect latency is recorded per connect, and the timeline's
// measured entries add up to the totals exactly. Also: the ports-exhausted message, in a private
// network namespace with a three-port range (the host's range is never touched).
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>
#include <net/if.h>

#include "backend_param.hpp"
#include "client/driver.hpp"
#include "client/report_json.hpp"
#include "run_checks.hpp"
#include "test_server.hpp"

namespace echod::client {
namespace {

using namespace std::chrono_literals;
using testing::server_behaviour;
using testing::test_server;

class churn_test : public testing::backend_test {
 protected:
  options base(const test_server& server) const {
    options o = options_for(server, GetParam());
    o.connections = 4;
    o.timeout = 5s;
    return o;
  }
};

// The measured entries of the timeline add up to the report's totals, bucket for bucket; every
// entry's errors add up to the error total.
void expect_timeline_adds_up(const run_result& r) {
  std::uint64_t messages = 0, sent = 0, received = 0, connects = 0, opened = 0;
  error_counts errors;
  histogram latency;
  for (const interval& i : r.timeline) {
    errors += i.errors;
    opened += i.connects;
    EXPECT_EQ(i.latency.count, i.messages);
    EXPECT_LE(i.length_s, 1.0 + 1e-9);
    EXPECT_LT(i.offset_s, 1.0);
    if (i.when != phase::measured) continue;
    messages += i.messages;
    sent += i.bytes_sent;
    received += i.bytes_received;
    connects += i.connects;
    latency.merge(i.latency);
  }
  EXPECT_EQ(messages, r.messages);
  EXPECT_EQ(sent, r.bytes_sent);
  EXPECT_EQ(received, r.bytes_received);
  EXPECT_EQ(connects, r.connects);
  EXPECT_EQ(opened, r.connections_opened);
  EXPECT_EQ(errors, r.errors);
  EXPECT_EQ(latency, r.latency);
}

TEST_P(churn_test, one_message_per_connection_opens_a_connection_per_message) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.messages = 40;
  o.messages_per_connection = 1;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  EXPECT_EQ(r.messages, 40u);
  EXPECT_EQ(r.connections_opened, 40u);
  EXPECT_EQ(r.connects, 40u);
  EXPECT_EQ(server.connections_accepted(), 40u);
  EXPECT_EQ(r.connect_latency.count(), 40u);
  EXPECT_GT(r.connect_latency.min(), 0u);
  EXPECT_GT(r.connects_per_sec, 0.0);
  ASSERT_EQ(r.per_connection.size(), 4u);
  for (auto n : r.per_connection) EXPECT_EQ(n, 10u);  // fairness counts per slot
  EXPECT_EQ(r.bytes_received, 40u * 64);
  expect_timeline_adds_up(r);
}

TEST_P(churn_test, several_pipelined_messages_per_connection_keep_exact_counts) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.messages = 50;  // quotas 13, 13, 12, 12
  o.messages_per_connection = 4;
  o.pipeline = 3;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  EXPECT_EQ(r.messages, 50u);
  // 13 = 4+4+4+1 needs 4 connections, 12 = 4+4+4 needs 3: 4+4+3+3.
  EXPECT_EQ(r.connections_opened, 14u);
  EXPECT_EQ(server.connections_accepted(), 14u);
  EXPECT_EQ(r.per_connection, (std::vector<std::uint64_t>{13, 13, 12, 12}));
  EXPECT_EQ(server.bytes_received(), 50u * 64);  // nothing sent beyond the quota
  expect_timeline_adds_up(r);
}

TEST_P(churn_test, a_timed_run_with_churn_and_warm_up_adds_up) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.warmup = 300ms;
  o.duration = 1200ms;
  o.duration_set = true;
  o.messages_per_connection = 2;
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  EXPECT_GT(r.messages, 20u);
  EXPECT_EQ(sum(r.per_connection), r.messages);
  EXPECT_NEAR(r.duration_s, 1.2, 0.02);
  // Every connection carried 2 messages (the last of each slot maybe fewer, cut by the end).
  EXPECT_GE(r.connections_opened * 2, server.bytes_received() / 64);
  EXPECT_EQ(server.connections_accepted(), r.connections_opened);
  ASSERT_FALSE(r.timeline.empty());
  EXPECT_EQ(r.timeline.front().when, phase::warmup);
  bool measured_seen = false;
  for (const interval& i : r.timeline) {
    if (i.when == phase::measured) measured_seen = true;
    if (measured_seen) {
      EXPECT_NE(i.when, phase::warmup) << "warm-up after the window began";
    }
  }
  EXPECT_TRUE(measured_seen);
  expect_timeline_adds_up(r);
  // The JSON round trip keeps the timeline exactly.
  const run_result back = from_json_text(to_json_text(r), "report");
  ASSERT_EQ(back.timeline.size(), r.timeline.size());
  for (std::size_t k = 0; k < r.timeline.size(); ++k) {
    EXPECT_EQ(back.timeline[k].latency, r.timeline[k].latency) << k;
    EXPECT_EQ(back.timeline[k].messages, r.timeline[k].messages) << k;
    EXPECT_EQ(back.timeline[k].second, r.timeline[k].second) << k;
    EXPECT_EQ(back.timeline[k].when, r.timeline[k].when) << k;
  }
  EXPECT_EQ(back.connect_latency, r.connect_latency);
}

TEST_P(churn_test, open_loop_records_corrected_and_uncorrected_latency) {
  test_server server(GetParam(), server_behaviour::upper);
  options o = base(server);
  o.rate = 2000;
  o.messages = 400;
  o.messages_per_connection = 5;
  server.stall(150ms);  // the first replies wait: corrected latency sees it from the due time
  const run_result r = run_load(o);
  EXPECT_TRUE(r.ok()) << diagnosis(r);
  EXPECT_EQ(r.messages, 400u);
  EXPECT_EQ(r.service.count(), 400u);
  EXPECT_EQ(server.connections_accepted(), 80u);
  // Service time counts from the send; corrected latency from the due time, which is earlier or
  // equal, message by message: so every percentile of it is at least the service time's.
  for (double p : {50.0, 90.0, 99.0, 100.0}) {
    EXPECT_GE(r.latency.percentile(p), r.service.percentile(p)) << p;
  }
  EXPECT_GE(r.latency.sum(), r.service.sum());
  histogram service;
  for (const interval& i : r.timeline) {
    if (i.when == phase::measured) service.merge(i.service);
  }
  EXPECT_EQ(service, r.service);
}

ECHOD_INSTANTIATE_BACKENDS(churn_test);

// Brings the loopback interface of the current (new) network namespace up.
bool loopback_up() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  ifreq req{};
  std::snprintf(req.ifr_name, sizeof req.ifr_name, "lo");
  bool ok = ioctl(fd, SIOCGIFFLAGS, &req) == 0;
  req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP);
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &req) == 0;
  ::close(fd);
  return ok;
}

bool write_sysctl(const char* path, const char* value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

// Four local ports (one goes to the test server's listener) and no TIME_WAIT reuse, in a network
// namespace of our own: a churning run soon finds no port for its next connect. The child process
// owns the namespace; it sends the JSON report back through a pipe.
TEST(churn, used_up_ports_are_named_with_source_and_the_port_range) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (unshare(CLONE_NEWNET) != 0) _exit(77);
    if (!loopback_up() || !write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "40000 40003") ||
        !write_sysctl("/proc/sys/net/ipv4/tcp_tw_reuse", "0")) {
      _exit(78);
    }
    std::string text;
    {
      test_server server(io::backend_kind::epoll, server_behaviour::upper);
      options o;
      o.target = server.target();
      o.backend = config::backend_kind::epoll;
      o.threads = 1;
      o.connections = 1;
      o.duration = 5s;
      o.duration_set = true;
      o.messages_per_connection = 1;
      o.progress = "off";
      text = to_json_text(run_load(o));
    }
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) _exit(79);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    GTEST_SKIP() << "unshare(CLONE_NEWNET) refused: a private network namespace needs "
                    "CAP_SYS_ADMIN (run the tests as root, as CI does)";
  }
  ASSERT_EQ(WEXITSTATUS(status), 0) << "78: namespace set-up failed, 79: pipe";
  const run_result r = from_json_text(text, "child report");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.messages, r.connections_opened) << text;
  EXPECT_GE(r.connections_opened, 2u);
  EXPECT_LE(r.connections_opened, 3u);
  EXPECT_EQ(r.errors[error_class::connect], 1u);
  EXPECT_EQ(r.connect_errors[static_cast<std::size_t>(connect_failure::no_port)], 1u);
  ASSERT_FALSE(r.notes.empty());
  const std::string& note = r.notes.front();
  EXPECT_NE(note.find("--source"), std::string::npos) << note;
  EXPECT_NE(note.find("40000-40003"), std::string::npos) << note;
  EXPECT_NE(note.find("not by the server"), std::string::npos) << note;
}

}  // namespace
}  // namespace echod::client
