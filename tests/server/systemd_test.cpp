// echod under a service manager, without one running: the test plays systemd's part. It listens
// on a unix datagram socket passed as NOTIFY_SOCKET and checks the exact sd_notify messages across
// start, a worker's death, reloads (good and bad) and stop; it passes a bound, listening socket as
// fd 3 with LISTEN_FDS=1 and LISTEN_PID (socket activation) and checks echod serves on it without
// binding, keeps it across a reload, and refuses a socket no `listen` address names; and it
// checks the pid_file is written, moved by a reload and removed at exit.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"
#include "io/address.hpp"
#include "regex.hpp"
#include "temp_file.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

std::string exit_of(const std::optional<int>& status) {
  return status ? describe_status(*status) : "still running";
}

std::uint64_t monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
}

std::string config_json(io::backend_kind backend, unsigned processes,
                        const std::string& extra = {}) {
  return std::string(R"({"listen": "127.0.0.1:0", "backend": ")") + io::backend_name(backend) +
         R"(", "shutdown_timeout": 2, "processes": )" + std::to_string(processes) +
         (extra.empty() ? "" : ", " + extra) + "}";
}

class systemd_test : public backend_test {};

// ---- sd_notify ----

TEST_P(systemd_test, notify_sequence_across_start_worker_death_reloads_and_stop) {
  notify_socket manager;
  ASSERT_TRUE(manager.bound());
  temp_config file(config_json(GetParam(), 2));
  echod_process e({"-c", file.path()}, true, manager.launcher());
  ASSERT_NE(e.port(), 0) << e.log();
  const std::string ready = "READY=1\nMAINPID=" + std::to_string(e.pid()) + "\n";

  // READY=1 once both workers of the first generation are ready, and nothing before it.
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            ready + "STATUS=serving: generation 1, 2 of 2 workers ready, 0 connections");

  // A worker's death and its return are STATUS= lines only.
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  ASSERT_EQ(::kill(e.workers().front(), SIGKILL), 0);
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "STATUS=serving: generation 1, 1 of 2 workers ready, 0 connections");
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "STATUS=serving: generation 1, 2 of 2 workers ready, 0 connections");

  // A good reload: RELOADING=1 stamped with the manager's clock, then READY=1 once generation 2
  // serves.
  file.write(config_json(GetParam(), 1));
  const std::uint64_t before = monotonic_usec();
  e.proc().signal(SIGHUP);
  const auto reloading = manager.next(10s).value_or("(none)");
  const std::uint64_t after = monotonic_usec();
  std::smatch m;
  ASSERT_TRUE(std::regex_match(reloading, m,
                               std::regex("RELOADING=1\nMONOTONIC_USEC=(\\d+)\nSTATUS=reloading: "
                                          "generation 1, 2 of 2 workers ready, 0 connections")))
      << reloading;
  const std::uint64_t stamp = std::stoull(m[1]);
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            ready + "STATUS=serving: generation 2, 1 of 1 worker ready, 0 connections");

  // A bad reload: RELOADING=1, then READY=1 again (the manager is not left reloading).
  file.write("{not json");
  e.proc().signal(SIGHUP);
  const auto bad = manager.next(10s).value_or("(none)");
  EXPECT_TRUE(std::regex_match(bad, std::regex("RELOADING=1\nMONOTONIC_USEC=\\d+\nSTATUS="
                                               "reloading: generation 2, 1 of 1 worker ready, 0 "
                                               "connections")))
      << bad;
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            ready +
                "STATUS=serving: generation 2, 1 of 1 worker ready, 0 connections; reload failed "
                "(see the log)");

  // SIGTERM: STOPPING=1, counting the connection still open; then nothing more.
  client c(e.port());
  ASSERT_TRUE(c.round_trip("still here")) << e.log();
  e.proc().signal(SIGTERM);
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "STOPPING=1\nSTATUS=stopping: generation 2, 1 of 1 worker ready, 1 connection");
  c.close();
  EXPECT_EQ(exit_of(e.proc().wait_exit(10s)), "exited 0") << e.log();
  EXPECT_EQ(manager.next(200ms).value_or("(none)"), "(none)");
  EXPECT_EQ(e.count_log("sd_notify"), 0U) << e.log();
}

TEST(systemd_notify, an_unreachable_notify_socket_is_logged_once_and_echod_serves) {
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "processes=1", "--set", "backend=epoll"},
                  true, {"/usr/bin/env", "NOTIFY_SOCKET=/nonexistent/notify"});
  ASSERT_NE(e.port(), 0) << e.log();
  ASSERT_TRUE(
      e.wait_log("sd_notify to NOTIFY_SOCKET=/nonexistent/notify: No such file or "
                 "directory"))
      << e.log();
  client c(e.port());
  EXPECT_TRUE(c.round_trip("served anyway"));
  c.close();
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
  EXPECT_EQ(e.count_log("sd_notify to"), 1U) << e.log();
}

// ---- socket activation ----

// A bound, listening TCP socket on 127.0.0.1 (ephemeral port), without FD_CLOEXEC so the launcher
// inherits it, and without SO_REUSEADDR: while it is open, nobody else can bind its port.
struct inherited_socket {
  int fd = -1;
  int port = 0;
  inherited_socket() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const auto at = *io::address::parse("127.0.0.1:0");
    if (::bind(fd, at.get(), at.length) == 0 && ::listen(fd, 16) == 0) {
      port = io::address::local_of(fd)->port();
    }
  }
  ~inherited_socket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  /// Execs the rest of the command line with this socket as fd 3, LISTEN_FDS=1 and LISTEN_PID
  /// its own PID (which exec keeps): what systemd does for a socket unit's service.
  std::vector<std::string> launcher() const {
    const std::string n = std::to_string(fd);
    const std::string move = fd == 3 ? "" : "exec 3<&" + n + " " + n + "<&-; ";
    return {"/bin/bash", "-c", move + "export LISTEN_FDS=1 LISTEN_PID=$$; exec \"$@\"",
            "echod-launcher"};
  }
};

TEST_P(systemd_test, socket_activation_serves_on_the_inherited_socket_without_binding) {
  inherited_socket s;
  ASSERT_NE(s.port, 0);
  const std::string at = "127.0.0.1:" + std::to_string(s.port);
  // Two addresses: the inherited one, and one no socket was passed for, which echod binds.
  echod_process e({"--set", "listen=[\"" + at + "\",\"127.0.0.1:0\"]", "--set",
                   std::string("backend=") + io::backend_name(GetParam()), "--set", "processes=2",
                   "--set", "shutdown_timeout=2"},
                  false, s.launcher());
  // Had echod bound `at` itself, bind would have failed (the test's socket holds the port).
  ASSERT_TRUE(e.wait_log("listening on " + at + " \\(adopted fd 3 from the service manager\\)"))
      << e.log();
  const auto bound = e.wait_log(R"(listening on 127\.0\.0\.1:(\d+)\n)");
  ASSERT_TRUE(bound) << e.log();
  const int other_port = std::stoi((*bound)[1]);
  EXPECT_NE(other_port, s.port);
  EXPECT_EQ(e.count_log("listening on"), 2U) << e.log();
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  s.close();  // echod's copy is the only one left: what it serves on is the socket it adopted

  client a(s.port);
  EXPECT_TRUE(a.round_trip("socket activation")) << e.log();
  client b(other_port);
  EXPECT_TRUE(b.round_trip("bound as usual")) << e.log();
  a.close();
  b.close();

  // A reload keeps the adopted socket (same address, same socket: nothing to bind).
  e.proc().signal(SIGHUP);
  ASSERT_TRUE(e.wait_log("reload complete: generation 2")) << e.log();
  client again(s.port);
  EXPECT_TRUE(again.round_trip("after the reload")) << e.log();
  again.close();
  EXPECT_EQ(e.count_log("listening on"), 2U) << e.log();
  EXPECT_EQ(e.count_log("bind"), 0U) << e.log();
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
}

TEST(systemd_socket_activation, an_inherited_socket_no_listen_address_names_exits_2) {
  inherited_socket s;
  ASSERT_NE(s.port, 0);
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "backend=epoll"}, false, s.launcher());
  const auto status = e.proc().wait_exit(10s);
  const std::string log = e.final_log();
  EXPECT_EQ(exit_of(status), "exited 2") << log;
  EXPECT_NE(log.find("inherited socket fd 3 (127.0.0.1:" + std::to_string(s.port) +
                     "): no listen address names it (listen: 127.0.0.1:0)"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("started"), std::string::npos) << log;
}

// ---- pid_file ----

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    out.push_back(f.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_P(systemd_test, pid_file_is_written_moved_by_a_reload_and_removed_at_exit) {
  temp_config file("{}");
  const std::string dir = std::filesystem::path(file.path()).parent_path().string();
  const std::string first = dir + "/echod.pid";
  const std::string second = dir + "/moved.pid";
  file.write(config_json(GetParam(), 1, R"("pid_file": ")" + first + "\""));
  echod_process e({"-c", file.path()});
  ASSERT_NE(e.port(), 0) << e.log();
  const std::string pid = std::to_string(e.pid()) + "\n";
  EXPECT_EQ(file_text(first), pid);
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"echod.json", "echod.pid"}))
      << "a temporary file was left behind";

  file.write(config_json(GetParam(), 1, R"("pid_file": ")" + second + "\""));
  e.proc().signal(SIGHUP);
  ASSERT_TRUE(e.wait_log("reload complete: generation 2")) << e.log();
  EXPECT_EQ(file_text(second), pid);
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"echod.json", "moved.pid"}));

  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"echod.json"}));
}

// A supervisor may reload as soon as the pid_file shows: the master has its signals blocked by
// then, so the SIGHUP waits for its signalfd instead of ending the process (it once did, when
// it came between the pid_file and the master's loop).
TEST_P(systemd_test, a_reload_sent_as_soon_as_the_pid_file_shows_reloads) {
  temp_config file("{}");
  const std::string pid_path =
      std::filesystem::path(file.path()).parent_path().string() + "/echod.pid";
  file.write(config_json(GetParam(), 1, R"("pid_file": ")" + pid_path + "\""));
  echod_process e({"-c", file.path()}, false);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!std::filesystem::exists(pid_path) && std::chrono::steady_clock::now() < until) {
  }
  ASSERT_TRUE(std::filesystem::exists(pid_path)) << e.final_log();
  e.proc().signal(SIGHUP);
  ASSERT_TRUE(e.wait_log("reload complete: generation 2")) << e.final_log();
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
}

TEST(systemd_pid_file, an_unwritable_pid_file_is_an_error_naming_the_field) {
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "backend=epoll", "--set",
                   "pid_file=/nonexistent/echod.pid"},
                  false);
  const auto status = e.proc().wait_exit(10s);
  const std::string log = e.final_log();
  EXPECT_EQ(exit_of(status), "exited 1") << log;
  EXPECT_NE(log.find("pid_file /nonexistent/echod.pid: open /nonexistent/echod.pid.tmp."),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("No such file or directory"), std::string::npos) << log;
  EXPECT_EQ(log.find("started"), std::string::npos) << log;
}

}  // namespace

ECHOD_INSTANTIATE_BACKENDS(systemd_test);

}  // namespace echod::testing
