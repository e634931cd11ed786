// Binary upgrade (SIGUSR2) on the real binaries. echod runs from a copy in a temporary directory,
// so "the binary at its own path" can really be replaced: by the same build (a new file renamed
// onto the path), by a script that exits 1, by one that is never ready. Under closed-loop-free
// echoload load (open loop, each connection closing itself after 20 messages) and a long-lived
// client that keeps talking, an upgrade loses nothing: no client error, the pid_file names the
// new master (as does its READY=1 with MAINPID= to a service manager), the old one exits 0. A
// failed or late new master leaves the old one serving.
//
// The test process is a child subreaper: once the old master exits, the new one (its child) is
// re-parented here, so the test can wait for its exit status like any child's.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "echod_harness.hpp"
#include "regex.hpp"
#include "temp_file.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string status_text(const std::optional<int>& status) {
  return status ? describe_status(*status) : "still running";
}

pid_t pid_in(const std::string& path) {
  const std::string text = file_text(path);
  return text.empty() ? -1 : std::stoi(text);
}

// Waits for a child of this process (a re-parented master included) to exit.
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

// A temporary directory holding a copy of build/server/echod; removed with what it holds.
class binary_dir {
 public:
  binary_dir() {
    char name[] = "/tmp/echod-upgrade-XXXXXX";
    if (::mkdtemp(name) != nullptr) dir_ = name;
    replace_with_build();
  }
  ~binary_dir() { fs::remove_all(dir_); }
  binary_dir(const binary_dir&) = delete;
  binary_dir& operator=(const binary_dir&) = delete;

  std::string binary() const { return dir_ + "/echod"; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }

  /// A fresh copy of the build at the binary's path: a new file, renamed onto it.
  void replace_with_build() const {
    fs::copy_file(build_path("server/echod"), file("echod.new"));
    install_new();
  }
  /// A script at the binary's path, the same way.
  void replace_with_script(const std::string& text) const {
    std::ofstream(file("echod.new")) << text;
    install_new();
  }

 private:
  void install_new() const {
    fs::permissions(file("echod.new"), fs::perms::owner_all | fs::perms::group_read |
                                           fs::perms::group_exec | fs::perms::others_read |
                                           fs::perms::others_exec);
    fs::rename(file("echod.new"), binary());
  }

  std::string dir_;
};

// Ends every master an upgrade started (their PIDs are in the old master's log), and their
// workers: they share the old master's stderr, which echod_process reads until it closes.
// Declared after the echod_process, so that it runs first.
class upgrade_guard {
 public:
  explicit upgrade_guard(echod_process& e) : e_(e) {}
  ~upgrade_guard() {
    const std::string log = e_.log();
    static const std::regex started(R"(new master started \(pid (\d+)\))");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), started);
         it != std::sregex_iterator(); ++it) {
      const pid_t pid = std::stoi((*it)[1]);
      for (const pid_t w : children_of(pid)) ::kill(w, SIGKILL);
      if (::kill(pid, SIGKILL) == 0) wait_child(pid, 2s);  // ours once re-parented
    }
  }
  upgrade_guard(const upgrade_guard&) = delete;
  upgrade_guard& operator=(const upgrade_guard&) = delete;

 private:
  echod_process& e_;
};

// One long-lived connection that keeps talking: a message every 10 ms, each reply checked
// against python_upper. When the server ends the connection (FIN after answering every byte it
// read: a retiring worker once shutdown_timeout has passed) it reconnects and sends the
// unanswered message again, as a client of a draining server must; it looks for that FIN before
// each write. Anything else (a reset, a refused connect, a wrong byte, a timeout) is an error.
class talker {
 public:
  explicit talker(int port) : port_(port), thread_([this] { run(); }) {}
  ~talker() { stop(); }
  talker(const talker&) = delete;
  talker& operator=(const talker&) = delete;

  std::uint64_t answered() const { return answered_; }
  unsigned ended() const { return ended_; }
  bool wait_answered(std::uint64_t n, std::chrono::milliseconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (answered_ < n && error_count_ == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
    return answered_ >= n;
  }
  /// Stops and returns the errors, one line each ("" when none).
  std::string stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return errors_;
  }

 private:
  void run() {
    client c(port_, 10s);
    for (std::uint64_t seq = 0; !stop_;) {
      if (!c.connected()) return fail("connect failed (refused or timed out)");
      const std::string msg = "long-lived talker, message " + std::to_string(seq) + " ...........";
      char peek = 0;
      if (::recv(c.fd(), &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {  // ended while it paused
        ++ended_;
        c = client(port_, 10s);
        continue;
      }
      if (!c.send_all(msg)) return fail(std::string("send: ") + std::strerror(errno));
      std::string got(msg.size(), '\0');
      std::size_t have = 0;
      ssize_t n = 1;
      while (have < got.size() &&
             (n = ::recv(c.fd(), got.data() + have, got.size() - have, 0)) > 0) {
        have += static_cast<std::size_t>(n);
      }
      got.resize(have);
      if (got != python_upper(msg).substr(0, have)) return fail("wrong reply: " + got);
      if (n == 0) {  // every reply to what the server read, then FIN: send it again elsewhere
        ++ended_;
        c = client(port_, 10s);
        continue;
      }
      if (n < 0) return fail(std::string("recv: ") + std::strerror(errno));
      ++answered_;
      ++seq;
      std::this_thread::sleep_for(10ms);
    }
  }
  void fail(const std::string& why) {
    errors_ += why + " (after " + std::to_string(answered_) + " answers)\n";
    ++error_count_;
  }

  const int port_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> answered_{0};
  std::atomic<unsigned> ended_{0};
  std::atomic<unsigned> error_count_{0};
  std::string errors_;  // written by the thread, read after join
  std::thread thread_;
};

class upgrade_test : public backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped()) return;
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0) << std::strerror(errno);
  }

  /// Two workers, an admin endpoint and a pid_file in `bin`'s directory.
  std::string config_json(const binary_dir& bin, const std::string& extra = {}) const {
    return std::string(R"({"listen": "127.0.0.1:0", "backend": ")") + io::backend_name(GetParam()) +
           R"(", "processes": 2, "threads": 1, "shutdown_timeout": 4, "admin": "127.0.0.1:0", )" +
           R"("pid_file": ")" + bin.file("echod.pid") + "\"" + extra + "}";
  }
};

TEST_P(upgrade_test, under_load_the_new_binary_takes_over_with_zero_client_errors) {
  binary_dir bin;
  temp_config file(config_json(bin));
  temp_file report("", ".json");
  echod_process old_master({"-c", file.path()}, true, {}, bin.binary());
  upgrade_guard guard(old_master);
  ASSERT_NE(old_master.port(), 0) << old_master.log();
  ASSERT_TRUE(old_master.wait_workers(2)) << old_master.log();
  const pid_t old_pid = old_master.pid();
  const int port = old_master.port();
  EXPECT_EQ(pid_in(bin.file("echod.pid")), old_pid);

  talker chatty(port);
  ASSERT_TRUE(chatty.wait_answered(5, 10s)) << chatty.stop();
  // Open loop at 4000 messages/s over 200 connections (one message per 50 ms each); each
  // connection closes itself after 20 messages (1 s) and opens the next: one still open when its
  // worker retires finishes well inside shutdown_timeout (4 s), as a client would.
  child_process load({build_path("client/echoload"),
                      "127.0.0.1:" + std::to_string(port),
                      "-t",
                      "2",
                      "-c",
                      "200",
                      "-d",
                      "12s",
                      "--rate",
                      "4000",
                      "--messages-per-connection",
                      "20",
                      "--size",
                      "256",
                      "--timeout",
                      "30s",
                      "--backend",
                      io::backend_name(GetParam()),
                      "--progress",
                      "off",
                      "--json",
                      report.path()});
  // Every load connection has been accepted once (the talker's makes one more).
  bool loaded = false;
  for (int i = 0; i < 100 && !loaded; ++i) {
    old_master.proc().signal(SIGUSR1);
    loaded =
        old_master
            .wait_log(R"(stats: connections: accepted (20[1-9]|2[1-9]\d|[3-9]\d\d|\d{4,}),)", 200ms)
            .has_value();
  }
  ASSERT_TRUE(loaded) << old_master.log() << load.stderr_text();

  bin.replace_with_build();
  old_master.proc().signal(SIGUSR2);
  const auto complete =
      old_master.wait_log(R"(upgrade complete: the new master \(pid (\d+)\) serves)", 60s);
  ASSERT_TRUE(complete) << old_master.log();
  const pid_t new_pid = std::stoi((*complete)[1]);
  EXPECT_NE(new_pid, old_pid);
  EXPECT_EQ(pid_in(bin.file("echod.pid")), new_pid) << "the new master writes it before it says so";

  // The old master retires its workers (the talker's connection is ended once shutdown_timeout
  // has passed) and exits 0; the new one runs the new file at the same path.
  EXPECT_EQ(status_text(old_master.proc().wait_exit(30s)), "exited 0") << old_master.log();
  EXPECT_EQ(::kill(old_pid, 0), -1) << "the old master is still there";
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(new_pid) + "/exe").string(), bin.binary());
  EXPECT_EQ(children_of(new_pid).size(), 2U);
  EXPECT_EQ(pid_in(bin.file("echod.pid")), new_pid);

  // The port answers, the talker talks on (to a new worker), and the load ends with no error.
  client fresh(port);
  EXPECT_TRUE(fresh.round_trip("after the upgrade")) << old_master.log();
  fresh.close();
  EXPECT_TRUE(chatty.wait_answered(chatty.answered() + 20, 10s));
  EXPECT_EQ(chatty.stop(), "");
  EXPECT_EQ(chatty.ended(), 1U) << "its old worker ends it once, then the new master serves it";
  ASSERT_TRUE(load.wait_exit(60s).has_value()) << load.stderr_text();
  const auto r = nlohmann::json::parse(file_text(report.path()), nullptr, false);
  ASSERT_TRUE(r.is_object()) << load.stderr_text();
  for (const char* kind : {"connect", "timeout", "reset", "short", "mismatch", "other"}) {
    EXPECT_EQ(r["errors"][kind], 0) << kind << ": " << r["error_examples"].dump(2);
  }
  EXPECT_GT(r["connections_opened"].get<long>(), 200) << r.dump(2);
  EXPECT_GT(r["messages"].get<long>(), 0) << r.dump(2);

  // The new master stops like any: exit 0, its pid_file removed.
  ASSERT_EQ(::kill(new_pid, SIGTERM), 0);
  EXPECT_EQ(status_text(wait_child(new_pid, 20s)), "exited 0") << old_master.log();
  EXPECT_FALSE(fs::exists(bin.file("echod.pid")));
}

TEST_P(upgrade_test,
       the_new_master_gives_the_service_manager_its_pid_and_the_old_one_falls_silent) {
  notify_socket manager;
  ASSERT_TRUE(manager.bound());
  binary_dir bin;
  temp_config file(config_json(bin));
  echod_process e({"-c", file.path()}, true, manager.launcher(), bin.binary());
  upgrade_guard guard(e);
  ASSERT_NE(e.port(), 0) << e.log();
  const auto admin = e.wait_log(R"(admin endpoint on 127\.0\.0\.1:(\d+))");
  ASSERT_TRUE(admin) << e.log();
  const std::string serving = "STATUS=serving: generation 1, 2 of 2 workers ready, 0 connections";
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "READY=1\nMAINPID=" + std::to_string(e.pid()) + "\n" + serving);

  bin.replace_with_build();
  e.proc().signal(SIGUSR2);
  const auto complete = e.wait_log(R"(upgrade complete: the new master \(pid (\d+)\) serves)", 60s);
  ASSERT_TRUE(complete) << e.log();
  const pid_t new_pid = std::stoi((*complete)[1]);
  // The new master's READY=1 names it (NotifyAccess=all lets systemd take it). The old master,
  // retiring and exiting, sends nothing more: no STOPPING=1, the service is not stopping.
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "READY=1\nMAINPID=" + (*complete)[1] + "\n" + serving);
  EXPECT_EQ(status_text(e.proc().wait_exit(20s)), "exited 0") << e.log();
  EXPECT_EQ(manager.next(200ms).value_or("(none)"), "(none)");
  // The admin socket went over too: the old master stopped serving it without shutting it down.
  client health(std::stoi((*admin)[1]));
  ASSERT_TRUE(health.send_all("GET /health HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(health.recv_until_eof().starts_with("HTTP/1.1 200 ")) << e.log();

  ASSERT_EQ(::kill(new_pid, SIGTERM), 0);
  EXPECT_EQ(manager.next(10s).value_or("(none)"),
            "STOPPING=1\nSTATUS=stopping: generation 1, 2 of 2 workers ready, 0 connections");
  EXPECT_EQ(status_text(wait_child(new_pid, 20s)), "exited 0") << e.log();
}

TEST_P(upgrade_test, a_new_binary_that_exits_leaves_the_old_master_serving) {
  binary_dir bin;
  temp_config file(config_json(bin));
  echod_process e({"-c", file.path()}, true, {}, bin.binary());
  upgrade_guard guard(e);
  ASSERT_NE(e.port(), 0) << e.log();
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  const auto workers = e.workers();
  client c(e.port());
  ASSERT_TRUE(c.round_trip("before"));

  bin.replace_with_script(
      "#!/bin/sh\necho 'the new build cannot start (on purpose)' >&2\nexit 1\n");
  e.proc().signal(SIGUSR2);
  ASSERT_TRUE(e.wait_log(R"(upgrade failed: the new master \(pid \d+\) exited before it was )"
                         R"(ready: status 1 \(its own log, above, says why\); this master keeps )"
                         R"(serving)",
                         20s))
      << e.log();
  EXPECT_NE(e.log().find("the new build cannot start (on purpose)"), std::string::npos);
  EXPECT_TRUE(c.round_trip("the same connection, still served")) << e.log();
  EXPECT_EQ(e.workers(), workers);
  EXPECT_EQ(pid_in(bin.file("echod.pid")), e.pid());

  // The failed upgrade is over: the next SIGUSR2 is tried, and a missing file fails before any
  // fork, naming it.
  fs::remove(bin.binary());
  e.proc().signal(SIGUSR2);
  ASSERT_TRUE(e.wait_log("upgrade failed: cannot run .*: No such file or directory", 20s))
      << e.log();
  EXPECT_NE(e.log().find("cannot run " + bin.binary() + ": "), std::string::npos) << e.log();
  EXPECT_EQ(e.count_log("SIGUSR2 ignored"), 0U) << e.log();
  client fresh(e.port());
  EXPECT_TRUE(fresh.round_trip("a new connection")) << e.log();
  c.close();
  fresh.close();
  EXPECT_EQ(status_text(e.stop(SIGTERM, 20s)), "exited 0") << e.log();
  EXPECT_FALSE(fs::exists(bin.file("echod.pid")));
}

TEST_P(upgrade_test, a_new_master_not_ready_in_time_is_killed_and_the_old_one_serves_on) {
  binary_dir bin;
  temp_config file(config_json(bin, R"(, "upgrade_timeout": 3)"));
  echod_process e({"-c", file.path()}, true, {}, bin.binary());
  upgrade_guard guard(e);
  ASSERT_NE(e.port(), 0) << e.log();
  ASSERT_TRUE(e.wait_workers(2)) << e.log();

  // It records what it was given (the variable, its arguments, its open descriptors), then
  // never reports ready.
  const std::string record = bin.file("handoff");
  bin.replace_with_script(
      "#!/bin/sh\n{ echo \"$ECHOD_UPGRADE_FDS\"; echo \"$*\"; ls /proc/$$/fd; } > " + record +
      ".tmp\nmv " + record + ".tmp " + record + "\nexec sleep 600\n");
  e.proc().signal(SIGUSR2);
  const auto started = e.wait_log(R"(upgrade: new master started \(pid (\d+)\))", 20s);
  ASSERT_TRUE(started) << e.log();
  const std::string pid = (*started)[1];
  e.proc().signal(SIGUSR2);  // one at a time
  EXPECT_TRUE(
      e.wait_log(R"(SIGUSR2 ignored: an upgrade is in flight \(new master pid )" + pid, 10s))
      << e.log();
  EXPECT_TRUE(e.wait_log(R"(upgrade failed: the new master \(pid )" + pid +
                             R"(\) was not ready within 3 s \(upgrade_timeout\); killing it; this )"
                             R"(master keeps serving)",
                         20s))
      << e.log();
  EXPECT_TRUE(e.wait_log(
      R"(upgrade: the new master \(pid )" + pid + R"(\) is gone: killed by SIGKILL)", 10s))
      << e.log();
  EXPECT_EQ(::kill(std::stoi(pid), 0), -1) << "the straggler is still there";
  client c(e.port());
  EXPECT_TRUE(c.round_trip("still served")) << e.log();
  c.close();
  EXPECT_EQ(pid_in(bin.file("echod.pid")), e.pid());

  // What it inherited: the listening socket (by its key: port 0 names no address), the admin
  // socket, the ready pipe, each open at the number the variable gives; the same arguments.
  std::istringstream lines(file_text(record));
  std::string fds_line, args_line;
  std::getline(lines, fds_line);
  std::getline(lines, args_line);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      fds_line, m,
      std::regex(R"((\d+)=listen:127\.0\.0\.1:0#0,(\d+)=admin:127\.0\.0\.1:0,(\d+)=ready)")))
      << fds_line;
  std::vector<std::string> open_fds;
  for (std::string fd; lines >> fd;) open_fds.push_back(fd);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_NE(std::find(open_fds.begin(), open_fds.end(), m[i].str()), open_fds.end())
        << "fd " << m[i] << " is not open in the new binary";
  }
  EXPECT_EQ(args_line, "-c " + file.path());
  EXPECT_EQ(status_text(e.stop(SIGTERM, 20s)), "exited 0") << e.log();
}

}  // namespace

ECHOD_INSTANTIATE_BACKENDS(upgrade_test);

}  // namespace echod::testing
