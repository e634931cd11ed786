// echod's http service under wrk, as users drive it: a keep-alive GET load, a Lua script that
// POSTs bodies and checks every reply (loadtest/wrk/post.lua), and GET load through two reloads.
// Zero socket errors, zero non-2xx responses, zero wrong replies. Skipped, visibly, where wrk is
// not installed.
#include <signal.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

const char* wrk_path() {
  for (const char* p : {"/usr/bin/wrk", "/usr/local/bin/wrk"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

class http_wrk_test : public backend_test {
 protected:
  // Starts wrk: 2 threads, 50 connections, for `duration` ("2s"). wrk counts a reply that took
  // longer than its --timeout (2 s by default) as a timeout error; these tests check replies,
  // not latency, and one thread held off the CPU that long would fail them on a busy machine.
  static child_process start_wrk(int port, std::vector<std::string> extra,
                                 const std::string& duration = "2s") {
    std::vector<std::string> argv{wrk_path(), "-t2", "-c50", "-d" + duration, "--timeout", "30s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/hello");
    return child_process(argv);
  }
  // Runs wrk for 2 s and returns its output after checking it exited 0.
  std::string run_wrk(int port, std::vector<std::string> extra) {
    child_process wrk = start_wrk(port, std::move(extra));
    return finish_wrk(wrk);
  }
  std::string finish_wrk(child_process& wrk) {
    const auto status = wrk.wait_exit(30s);
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << (status ? describe_status(*status) : "still running") << "\n"
        << wrk.stderr_text();
    wrk.wait_for_stdout("Transfer/sec", 5s);
    return wrk.stdout_text();
  }

  static void expect_clean(const std::string& out) {
    EXPECT_EQ(out.find("Socket errors"), std::string::npos) << out;
    EXPECT_EQ(out.find("Non-2xx"), std::string::npos) << out;
    // "  123456 requests in 2.00s, ..." (no <regex>: GCC 12 warns inside it under sanitizers)
    const auto at = out.find(" requests in ");
    ASSERT_NE(at, std::string::npos) << out;
    const auto start = out.find_last_not_of("0123456789", at - 1) + 1;
    EXPECT_GT(std::stoll(out.substr(start, at - start)), 1000) << out;
  }
};

TEST_P(http_wrk_test, keep_alive_get_load_has_no_errors) {
  if (wrk_path() == nullptr) GTEST_SKIP() << "wrk is not installed";
  auto args = base_args(GetParam());
  args.insert(args.end(), {"--set", "service=http"});
  echod_process echod(args);
  expect_clean(run_wrk(echod.port(), {}));
}

TEST_P(http_wrk_test, lua_post_script_gets_every_body_back_uppercased) {
  if (wrk_path() == nullptr) GTEST_SKIP() << "wrk is not installed";
  auto args = base_args(GetParam());
  args.insert(args.end(), {"--set", "service=http"});
  echod_process echod(args);
  const std::string out = run_wrk(echod.port(), {"-s", source_path("loadtest/wrk/post.lua")});
  expect_clean(out);
  EXPECT_NE(out.find("Wrong replies: 0\n"), std::string::npos) << out;
}

TEST_P(http_wrk_test, reloads_under_wrk_load_have_no_errors) {
  // Retiring workers end each keep-alive session at its next response (Connection: close), so
  // wrk reconnects to the new generation: no reset, no failed request.
  if (wrk_path() == nullptr) GTEST_SKIP() << "wrk is not installed";
  auto args = base_args(GetParam());
  // A retiring worker gets 1 s (then 1 s more to close): without the session ending at a
  // response boundary, wrk's busy connections would outlast that and be cut by force.
  args.insert(args.end(),
              {"--set", "service=http", "--set", "processes=2", "--set", "shutdown_timeout=1"});
  echod_process echod(args);
  ASSERT_TRUE(echod.wait_workers(2)) << echod.log();
  child_process wrk = start_wrk(echod.port(), {}, "3s");
  for (const char* generation : {"2", "3"}) {
    std::this_thread::sleep_for(400ms);
    echod.proc().signal(SIGHUP);
    ASSERT_TRUE(echod.wait_log(std::string("reload complete: generation ") + generation))
        << echod.log();
  }
  expect_clean(finish_wrk(wrk));
  EXPECT_EQ(echod.count_log("killing it"), 0u) << echod.log();
}

ECHOD_INSTANTIATE_BACKENDS(http_wrk_test);

}  // namespace
}  // namespace echod::testing
