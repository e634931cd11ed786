// The real echoload binary: exit statuses (0 verified, 1 errors, 2 usage/config), the text
// report and its verdict, the JSON report and every schema key, merge of two reports, the
// config file under flags, progress lines, and the open-file limit message.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "test_server.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct outcome {
  int status = -1;  ///< exit status, or -1 if it did not exit in time
  std::string out;
  std::string err;
};

outcome run_echoload(std::vector<std::string> args, std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = std::move(prefix);
  argv.push_back(build_path("client/echoload"));
  argv.insert(argv.end(), args.begin(), args.end());
  child_process child(argv);
  const auto status = child.wait_exit(20s);
  outcome o;
  if (status && WIFEXITED(*status)) o.status = WEXITSTATUS(*status);
  // A pattern that never matches returns once the stream is closed: every byte has been read.
  constexpr auto never = "x^";
  child.wait_for_stdout(never, 5s);
  child.wait_for_stderr(never, 5s);
  o.out = child.stdout_text();
  o.err = child.stderr_text();
  return o;
}

// A path under /tmp, removed at the end of the test.
class temp_path {
 public:
  explicit temp_path(const std::string& suffix) {
    char name[] = "/tmp/echoload-test-XXXXXX";
    const int fd = mkstemp(name);
    ::close(fd);
    path_ = std::string(name) + suffix;
    std::rename(name, path_.c_str());
  }
  ~temp_path() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::string text() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void write(const std::string& text) const { std::ofstream(path_) << text; }

 private:
  std::string path_;
};

class echoload_cli : public backend_test {
 protected:
  std::string backend() const { return io::backend_name(GetParam()); }
};

TEST_P(echoload_cli, a_correct_server_exits_zero_and_writes_every_schema_key) {
  test_server server(GetParam(), server_behaviour::upper);
  temp_path report(".json");
  const outcome o = run_echoload({"-t", "2", "-c", "4", "-d", "300ms", "--backend", backend(),
                                  "--json", report.path(), "--progress", "off", server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(o.out.find("Running 300ms test @ " + server.target()), 0u) << o.out;
  EXPECT_NE(o.out.find("OK: every reply verified ("), std::string::npos) << o.out;
  const json j = json::parse(report.text());
  for (const char* key : {"schema", "target", "config", "machine", "duration_s", "messages",
                          "bytes_sent", "bytes_received", "msgs_per_sec", "mb_per_sec",
                          "latency_us", "errors", "fairness", "histogram"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["schema"], "echoload/1");
  EXPECT_EQ(j["target"], server.target());
  EXPECT_EQ(j["backend"], backend());
  EXPECT_EQ(j["config"]["connections"], 4);
  EXPECT_GT(j["messages"].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["histogram"]["count"], j["messages"]);
  for (const char* key : {"p50", "p90", "p99", "p999", "p9999", "max", "mean"}) {
    EXPECT_GT(j["latency_us"][key].get<double>(), 0.0) << key;
  }
  for (const char* key : {"connect", "timeout", "reset", "short", "mismatch", "other"}) {
    EXPECT_EQ(j["errors"][key], 0) << key;
  }
  for (const char* key : {"cores", "kernel", "cpu"}) EXPECT_TRUE(j["machine"].contains(key));
  for (const char* key : {"min", "median", "max"}) EXPECT_TRUE(j["fairness"].contains(key));
}

TEST_P(echoload_cli, a_wrong_server_exits_one_with_the_errors) {
  test_server server(GetParam(), server_behaviour::echo);
  temp_path report(".json");
  const outcome o = run_echoload({"-c", "3", "-d", "300ms", "--backend", backend(), "--json",
                                  report.path(), "--progress", "off", server.target()});
  EXPECT_EQ(o.status, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("FAILED: 3 errors (mismatch 3)"), std::string::npos) << o.out;
  const json j = json::parse(report.text());
  EXPECT_EQ(j["errors"]["mismatch"], 3);
  EXPECT_FALSE(j["ok"].get<bool>());
}

ECHOD_INSTANTIATE_BACKENDS(echoload_cli);

TEST(echoload_binary, help_and_version_exit_zero) {
  outcome o = run_echoload({"--help"});
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("--connections"), std::string::npos) << o.out;
  o = run_echoload({"--version"});
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out.find("echoload "), 0u) << o.out;
}

TEST(echoload_binary, usage_and_config_errors_exit_two) {
  outcome o = run_echoload({"-c", "many", "127.0.0.1:7007"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("command line: connections: expected an integer, got string \"many\""),
            std::string::npos)
      << o.err;
  temp_path config(".json");
  config.write(R"({"connections": 10, "expect": "lower"})");
  o = run_echoload({"--config", config.path(), "127.0.0.1:7007"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find(config.path() + ": expect: must be one of upper, echo"), std::string::npos)
      << o.err;
  o = run_echoload({"--backend", "kqueue", "127.0.0.1:7007"});
  EXPECT_EQ(o.status, 2);
}

TEST(echoload_binary, the_config_file_sets_what_flags_do_not) {
  test_server server(io::backend_kind::epoll, server_behaviour::echo);
  temp_path config(".json");
  temp_path report(".json");
  config.write(R"({"connections": 5, "duration": "200ms", "expect": "echo", "progress": "off",
                   "backend": "epoll"})");
  const outcome o = run_echoload(
      {"--config", config.path(), "-c", "2", "--json", report.path(), server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  const json j = json::parse(report.text());
  EXPECT_EQ(j["config"]["connections"], 2);  // the flag
  EXPECT_EQ(j["config"]["expect"], "echo");  // the file
  EXPECT_EQ(j["config"]["duration"], "200ms");
  EXPECT_EQ(j["fairness"]["per_connection"].size(), 2u);
}

TEST(echoload_binary, merge_of_two_reports_is_their_sum) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_path a(".json"), b(".json"), merged(".json");
  for (const temp_path* p : {&a, &b}) {
    const outcome o = run_echoload({"-c", "2", "-d", "200ms", "--backend", "epoll", "--json",
                                    p->path(), "--progress", "off", server.target()});
    ASSERT_EQ(o.status, 0) << o.out << o.err;
  }
  const outcome o = run_echoload({"merge", a.path(), b.path(), "--json", merged.path()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_EQ(o.out.find("Merged 2 runs @ " + server.target()), 0u) << o.out;
  const json ja = json::parse(a.text()), jb = json::parse(b.text()),
             jm = json::parse(merged.text());
  const auto u = [](const json& j, const char* k) { return j[k].get<std::uint64_t>(); };
  EXPECT_EQ(u(jm, "messages"), u(ja, "messages") + u(jb, "messages"));
  EXPECT_EQ(u(jm, "bytes_sent"), u(ja, "bytes_sent") + u(jb, "bytes_sent"));
  EXPECT_EQ(u(jm, "bytes_received"), u(ja, "bytes_received") + u(jb, "bytes_received"));
  EXPECT_NEAR(jm["msgs_per_sec"].get<double>(),
              ja["msgs_per_sec"].get<double>() + jb["msgs_per_sec"].get<double>(), 0.01);
  EXPECT_EQ(jm["histogram"]["count"], jm["messages"]);
  EXPECT_EQ(
      jm["histogram"]["sum"].get<std::uint64_t>(),
      ja["histogram"]["sum"].get<std::uint64_t>() + jb["histogram"]["sum"].get<std::uint64_t>());
  EXPECT_EQ(jm["latency_us"]["max"].get<double>(),
            std::max(ja["latency_us"]["max"].get<double>(), jb["latency_us"]["max"].get<double>()));
  EXPECT_EQ(jm["runs"].size(), 2u);
  EXPECT_EQ(jm["fairness"]["per_connection"].size(), 4u);

  temp_path broken(".json");
  broken.write(R"({"schema": "echoload/1"})");
  const outcome bad = run_echoload({"merge", a.path(), broken.path()});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find(broken.path() + ": target: missing"), std::string::npos) << bad.err;
}

TEST(echoload_binary, progress_prints_a_line_a_second) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  const outcome o = run_echoload(
      {"-c", "2", "-d", "1200ms", "--backend", "epoll", "--progress", "on", server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  // "[   1.0s]     123456 msgs/s       2 open       0 errors"; <regex> is avoided (GCC 12
  // warns inside it under the sanitizers).
  std::istringstream line(o.err.substr(std::min(o.err.find("[   1.0s]"), o.err.size())));
  std::string stamp, unit, open_word, errors_word;
  double rate = 0;
  int open = 0, errors = -1;
  line >> stamp >> stamp >> rate >> unit >> open >> open_word >> errors >> errors_word;
  EXPECT_EQ(stamp, "1.0s]") << o.err;
  EXPECT_GT(rate, 0) << o.err;
  EXPECT_EQ(unit, "msgs/s") << o.err;
  EXPECT_EQ(open, 2) << o.err;
  EXPECT_EQ(errors, 0) << o.err;
}

TEST(echoload_binary, too_low_an_open_file_limit_is_named) {
  if (access("/usr/bin/prlimit", X_OK) != 0) GTEST_SKIP() << "no prlimit";
  const outcome o =
      run_echoload({"-c", "100", "127.0.0.1:7007"}, {"/usr/bin/prlimit", "--nofile=64:64"});
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find("100 connections need 100 open files"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("the limit here is 64 (ulimit -n"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace echod::testing
