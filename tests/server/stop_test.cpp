// Stop and reload end busy connections cleanly, on the real binaries: 500 closed-loop echoload
// connections never pause for 100 ms, so none ends by itself while echod closes; they are still
// open when shutdown_timeout passes. Then echod must stop reading, answer every byte it has read
// and end each connection with FIN: echoload sees no reset, at most the one outstanding message
// per connection ends short, and the server's own counters show bytes in == bytes out. The same
// for a reload storm (SIGHUP every 0.5 s) that outlives the first generation's shutdown_timeout.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "echod_harness.hpp"
#include "regex.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr int load_connections = 500;

std::string exit_of(const std::optional<int>& status) {
  return status ? describe_status(*status) : "still running";
}

class stop_test : public backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped()) return;
    char name[] = "/tmp/echod-stop-test-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    report_path_ = name;
  }
  void TearDown() override {
    if (!report_path_.empty()) std::remove(report_path_.c_str());
  }

  /// echod (one worker thread: every connection shares it, so none gets a quiet moment by
  /// luck) with every load connection open.
  void start_under_load() {
    file_ = std::make_unique<temp_config>(
        std::string(R"({"listen": "127.0.0.1:0", "backend": ")") + io::backend_name(GetParam()) +
        R"(", "processes": 1, "threads": 1, "shutdown_timeout": 1})");
    echod_ = std::make_unique<echod_process>(std::vector<std::string>{"-c", file_->path()});
    ASSERT_NE(echod_->port(), 0) << echod_->log();
    ASSERT_TRUE(echod_->wait_workers(1)) << echod_->log();
    load_ = start_load(echod_->port());
    ASSERT_TRUE(wait_all_connected(*echod_)) << echod_->log() << load_->stderr_text();
  }

  /// Closed-loop load for much longer than the test: it ends only when echod ends each
  /// connection (echoload does not reopen a connection that ended).
  std::unique_ptr<child_process> start_load(int port) const {
    return std::make_unique<child_process>(std::vector<std::string>{
        build_path("client/echoload"), "127.0.0.1:" + std::to_string(port), "-t", "2", "-c",
        std::to_string(load_connections), "-d", "120s", "--size", "1KiB", "--timeout", "60s",
        "--backend", io::backend_name(GetParam()), "--progress", "off", "--json", report_path_});
  }

  /// Waits (counting, via SIGUSR1) until echod has every load connection open.
  static bool wait_all_connected(echod_process& e) {
    const std::string want = "active " + std::to_string(load_connections) + ",";
    for (int i = 0; i < 150; ++i) {
      e.proc().signal(SIGUSR1);
      if (e.wait_log(want, 200ms)) return true;
    }
    return false;
  }

  /// echoload's JSON report, once it has exited.
  json load_report(child_process& load) const {
    const auto status = load.wait_exit(60s);
    EXPECT_TRUE(status.has_value()) << "echoload did not end after echod ended its connections";
    if (!status) load.signal(SIGKILL);
    std::ifstream in(report_path_);
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str(), nullptr, false);
  }

  /// Every connection ended in order: no reset, nothing but `short` (at most one per connection:
  /// the message outstanding when the server stopped reading).
  static void expect_clean_ends(const json& r, const std::string& stderr_text) {
    ASSERT_TRUE(r.is_object()) << "no JSON report; echoload said:\n" << stderr_text;
    const json& errors = r["errors"];
    EXPECT_EQ(r["connections_opened"], load_connections) << r.dump(2);
    EXPECT_GT(r["messages"].get<long>(), 0) << r.dump(2);
    EXPECT_EQ(errors["reset"], 0) << r["error_examples"].dump(2);
    EXPECT_EQ(errors["mismatch"], 0) << r["error_examples"].dump(2);
    EXPECT_EQ(errors["timeout"], 0) << r["error_examples"].dump(2);
    EXPECT_EQ(errors["other"], 0) << r["error_examples"].dump(2);
    EXPECT_EQ(errors["connect"], 0) << r["error_examples"].dump(2);
    EXPECT_LE(errors["short"].get<long>(), load_connections) << r["error_examples"].dump(2);
  }

  /// The master's last stats line (logged after every worker has exited): bytes in == out.
  static void expect_every_byte_answered(const std::string& log) {
    static const std::regex stats(
        R"(stats: connections: accepted (\d+), active (\d+), closed \d+; bytes: in (\d+), out (\d+))");
    std::smatch last;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), stats);
         it != std::sregex_iterator(); ++it) {
      last = *it;
    }
    ASSERT_FALSE(last.empty()) << log;
    EXPECT_GE(std::stoul(last[1]), static_cast<unsigned long>(load_connections));
    EXPECT_EQ(last[2], "0");
    EXPECT_EQ(last[3], last[4]) << "bytes read but never answered:\n" << last[0];
  }

  std::string report_path_;
  std::unique_ptr<temp_config> file_;
  std::unique_ptr<echod_process> echod_;
  std::unique_ptr<child_process> load_;
};

TEST_P(stop_test, sigterm_under_closed_loop_load_answers_what_it_read_and_ends_with_fin) {
  ASSERT_NO_FATAL_FAILURE(start_under_load());
  echod_process& e = *echod_;
  child_process& load = *load_;

  e.proc().signal(SIGTERM);
  EXPECT_EQ(exit_of(e.proc().wait_exit(15s)), "exited 0") << e.log();
  // How many connections were still busy at shutdown_timeout (and were ended) depends on the
  // machine's speed; the verdict does not: quiet or busy, each must end the same clean way.
  const std::string log = e.final_log();
  EXPECT_EQ(log.find("killing it"), std::string::npos) << log;
  expect_every_byte_answered(log);
  expect_clean_ends(load_report(load), load.stderr_text());
}

TEST_P(stop_test, a_reload_storm_outliving_shutdown_timeout_ends_the_old_connections_with_fin) {
  ASSERT_NO_FATAL_FAILURE(start_under_load());
  echod_process& e = *echod_;
  child_process& load = *load_;

  // 1 s of shutdown_timeout + 1 s of closing grace: the first generation's connections are
  // ended about 2 s after the first SIGHUP, well inside the storm.
  for (int i = 0; i < 10; ++i) {
    e.proc().signal(SIGHUP);
    std::this_thread::sleep_for(500ms);
  }
  const json report = load_report(load);  // every connection belonged to generation 1
  EXPECT_GE(e.count_log("reload complete"), 2u) << e.log();
  EXPECT_NE(e.log().find("retire: shutdown_timeout passed"), std::string::npos) << e.log();
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 15s)), "exited 0") << e.log();
  const std::string log = e.final_log();
  EXPECT_EQ(log.find("killing it"), std::string::npos) << log;
  expect_every_byte_answered(log);
  expect_clean_ends(report, load.stderr_text());
}

ECHOD_INSTANTIATE_BACKENDS(stop_test);

}  // namespace
}  // namespace echod::testing
