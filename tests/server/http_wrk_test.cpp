// echod's http service under wrk, as users drive it: a keep-alive GET load and a Lua script that
// POSTs bodies and checks every reply (loadtest/wrk/post.lua). Zero socket errors, zero non-2xx
// responses, zero wrong replies. Skipped, visibly, where wrk is not installed.
#include <unistd.h>

#include <string>

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
  // Runs wrk for 2 s and returns its output after checking it exited 0.
  std::string run_wrk(int port, std::vector<std::string> extra) {
    std::vector<std::string> argv{wrk_path(), "-t2", "-c50", "-d2s"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://127.0.0.1:" + std::to_string(port) + "/hello");
    child_process wrk(argv);
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

ECHOD_INSTANTIATE_BACKENDS(http_wrk_test);

}  // namespace
}  // namespace echod::testing
