// echod under seccomp, without a container engine: tests/deploy/seccomp_exec installs the filter
// and execs echod (or echoload) under it.
// - io_uring_setup denied with EPERM (what RuntimeDefault and Docker's default profile do): with
//   "backend": "auto" echod says "epoll (io_uring unavailable: ...)" and serves; with
//   "backend": "io_uring" it exits 2 and says why.
// - deploy/seccomp/echod-seccomp.json (the Localhost profile): echod serves on io_uring, reloads
//   and stops cleanly, and echoload verifies its load, on each backend.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "echod_harness.hpp"
#include "temp_file.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

std::string seccomp_exec() { return build_path("tests/deploy/seccomp_exec"); }
std::vector<std::string> deny_io_uring() { return {seccomp_exec(), "--deny-io-uring"}; }
std::vector<std::string> profile() {
  return {seccomp_exec(), "--profile", source_path("deploy/seccomp/echod-seccomp.json")};
}

std::vector<std::string> args_with_backend(const std::string& backend) {
  return {"--set", "listen=127.0.0.1:0", "--set", "backend=" + backend,
          "--set", "processes=2",        "--set", "shutdown_timeout=2"};
}

// Bytes through a real socket: the reply is the uppercase of what was sent.
void expect_serves(int port) {
  client c(port);
  ASSERT_TRUE(c.connected());
  const std::string msg = random_bytes(4096, 7);
  EXPECT_TRUE(c.round_trip(msg));
}

TEST(seccomp, denied_io_uring_with_backend_auto_falls_back_to_epoll_and_serves) {
  echod_process e(args_with_backend("auto"), true, deny_io_uring());
  ASSERT_GT(e.port(), 0) << e.log();
  EXPECT_TRUE(e.wait_log(R"(starting \(pid \d+\): backend epoll \(io_uring unavailable: [^)]*\))"))
      << e.log();
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  expect_serves(e.port());
  const auto status = e.stop(SIGTERM, 10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << e.final_log();
}

TEST(seccomp, denied_io_uring_with_backend_io_uring_exits_2_and_says_why) {
  echod_process e(args_with_backend("io_uring"), false, deny_io_uring());
  const auto status = e.proc().wait_exit(10s);
  ASSERT_TRUE(status.has_value()) << "echod still runs: " << e.log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << *status;
  const std::string log = e.final_log();
  EXPECT_NE(log.find(R"(backend "io_uring" is not available here: )"), std::string::npos) << log;
  EXPECT_NE(log.find("Operation not permitted"), std::string::npos) << log;
  EXPECT_EQ(log.find("listening on"), std::string::npos) << log;
}

// The helper refuses what it does not understand instead of running the program unfiltered.
TEST(seccomp, the_helper_refuses_a_profile_it_cannot_apply_fully) {
  const temp_config unsupported(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls":
      [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0}]}]})");
  child_process p({seccomp_exec(), "--profile", unsupported.path(), "/bin/true"});
  const auto status = p.wait_exit(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 125) << *status;
  // Waited for: the reader thread may not have drained the pipe when the exit is reaped.
  EXPECT_TRUE(p.wait_for_stderr(R"("args" is not supported)", 10s)) << p.stderr_text();
}

// The Localhost profile: everything echod and echoload do, on each backend.
class seccomp_profile : public backend_test {};

// LeakSanitizer stops the world with ptrace at exit, which the profile rightly denies: in a
// sanitizer build the children under it run without leak checking (read at their start only).
void children_without_leak_check() {
#if defined(__SANITIZE_ADDRESS__)
  const char* options = std::getenv("ASAN_OPTIONS");
  const std::string value = std::string(options != nullptr ? options : "") + ":detect_leaks=0";
  ::setenv("ASAN_OPTIONS", value.c_str(), 1);
#endif
}

TEST_P(seccomp_profile, echod_and_echoload_work_under_the_localhost_profile) {
  children_without_leak_check();
  const std::string backend = io::backend_name(GetParam());
  echod_process e(args_with_backend(backend), true, profile());
  ASSERT_GT(e.port(), 0) << e.log();
  EXPECT_TRUE(e.wait_log("starting \\(pid \\d+\\): backend " + backend)) << e.log();
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  expect_serves(e.port());

  const temp_config report_file("");  // echoload overwrites it with its report
  const std::string report = report_file.path();
  std::vector<std::string> load = profile();
  for (const std::string& a :
       {build_path("client/echoload"), std::string("--backend"), backend, std::string("-t"),
        std::string("2"), std::string("-c"), std::string("20"), std::string("-n"),
        std::string("2000"), std::string("--progress"), std::string("off"), std::string("--json"),
        report, "127.0.0.1:" + std::to_string(e.port())}) {
    load.push_back(a);
  }
  child_process l(load);
  const auto load_status = l.wait_exit(60s);
  ASSERT_TRUE(load_status.has_value()) << "echoload still runs";
  EXPECT_TRUE(WIFEXITED(*load_status) && WEXITSTATUS(*load_status) == 0) << l.stderr_text();
  const auto r = nlohmann::json::parse(file_text(report));
  EXPECT_EQ(r["messages"].get<long>(), 2000);
  EXPECT_EQ(r["backend"].get<std::string>(), backend);

  // A reload forks a new generation under the same filter.
  e.proc().signal(SIGHUP);
  EXPECT_TRUE(e.wait_log("generation 2")) << e.log();
  expect_serves(e.port());
  const auto status = e.stop(SIGTERM, 10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << e.final_log();
}

INSTANTIATE_TEST_SUITE_P(backends, seccomp_profile,
                         ::testing::Values(io::backend_kind::epoll, io::backend_kind::io_uring),
                         backend_param_name);

}  // namespace
}  // namespace echod::testing
