// The real echoload binary: exit statuses (0 verified, 1 errors, 2 usage/config), the text
// report and its verdict, the JSON report and every schema key, merge of two reports, the
// config file under flags, progress lines (the timeline's entries), the open-file limit message,
// churn's connection figures, timeline merge, the HdrHistogram log read by hdr-histogram-js,
// and plots.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "temp_file.hpp"
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

class echoload_cli : public backend_test {
 protected:
  std::string backend() const { return io::backend_name(GetParam()); }
};

TEST_P(echoload_cli, a_correct_server_exits_zero_and_writes_every_schema_key) {
  test_server server(GetParam(), server_behaviour::upper);
  temp_file report("", ".json");
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
  temp_file report("", ".json");
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
  temp_file config("", ".json");
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
  temp_file config("", ".json");
  temp_file report("", ".json");
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
  temp_file a("", ".json"), b("", ".json"), merged("", ".json");
  for (const temp_file* p : {&a, &b}) {
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

  temp_file broken("", ".json");
  broken.write(R"({"schema": "echoload/1"})");
  const outcome bad = run_echoload({"merge", a.path(), broken.path()});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find(broken.path() + ": target: missing"), std::string::npos) << bad.err;
}

// One progress line: "[   1.3s]      1234 msgs/s  p50  45.00us  p99 ... max ...  2 open  0 conn/s
// 0 errors", warm-up lines end in "(warmup)". <regex> is avoided (GCC 12 warns inside it under the
// sanitizers).
struct progress_line {
  double rate = -1;
  int open = -1;
  double conns = -1;
  int errors = -1;
};

std::vector<progress_line> progress_lines(const std::string& err) {
  std::vector<progress_line> out;
  std::istringstream lines(err);
  for (std::string text; std::getline(lines, text);) {
    if (text.rfind("[", 0) != 0) continue;
    std::istringstream line(text.substr(text.find(']') + 1));
    progress_line p;
    std::string word, v;
    line >> p.rate >> word;
    if (word != "msgs/s") continue;
    line >> word >> v >> word >> v >> word >> v >> p.open >> word >> p.conns >> word >> p.errors;
    out.push_back(p);
  }
  return out;
}

TEST(echoload_binary, progress_lines_are_the_timeline_entries) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_file report("", ".json");
  const outcome o = run_echoload({"-c", "2", "-d", "2500ms", "--backend", "epoll", "--progress",
                                  "on", "--json", report.path(), server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  const std::vector<progress_line> lines = progress_lines(o.err);
  const json j = json::parse(report.text());
  const json& timeline = j["timeline"];
  // The run's last intervals end after the progress loop, so the lines are a prefix.
  ASSERT_GE(lines.size(), 2u) << o.err;
  ASSERT_LE(lines.size(), timeline.size()) << o.err;
  for (std::size_t k = 0; k < lines.size(); ++k) {
    const json& e = timeline[k];
    const double rate = e["messages"].get<double>() / e["length_s"].get<double>();
    EXPECT_NEAR(lines[k].rate, rate, 0.5 + rate * 1e-5) << k << "\n" << o.err;
    EXPECT_EQ(lines[k].open, e["open"].get<int>()) << k;
    EXPECT_EQ(lines[k].errors, 0) << k;
  }
}

TEST(echoload_binary, merge_lines_timelines_up_by_second_and_adds_them_exactly) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_file a("", ".json"), b("", ".json"), merged("", ".json");
  for (const temp_file* p : {&a, &b}) {
    const outcome o = run_echoload({"-c", "2", "-d", "1500ms", "--backend", "epoll", "--json",
                                    p->path(), "--progress", "off", server.target()});
    ASSERT_EQ(o.status, 0) << o.out << o.err;
  }
  const outcome o = run_echoload({"merge", a.path(), b.path(), "--json", merged.path()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  const json ja = json::parse(a.text()), jb = json::parse(b.text()),
             jm = json::parse(merged.text());
  // Per (second, phase): messages and histogram counts and sums add up; nothing is lost.
  std::map<std::pair<std::int64_t, std::string>, std::array<std::uint64_t, 3>> want;
  for (const json* j : {&ja, &jb}) {
    for (const json& e : (*j)["timeline"]) {
      auto& w = want[{e["second"].get<std::int64_t>(), e["phase"].get<std::string>()}];
      w[0] += e["messages"].get<std::uint64_t>();
      w[1] += e["histogram"]["sum"].get<std::uint64_t>();
      w[2] += e["connects"].get<std::uint64_t>();
    }
  }
  ASSERT_EQ(jm["timeline"].size(), want.size());
  std::uint64_t measured = 0;
  std::int64_t previous = 0;
  for (const json& e : jm["timeline"]) {
    const auto second = e["second"].get<std::int64_t>();
    EXPECT_GE(second, previous);  // in time order
    previous = second;
    const auto& w = want[{second, e["phase"].get<std::string>()}];
    EXPECT_EQ(e["messages"].get<std::uint64_t>(), w[0]);
    EXPECT_EQ(e["histogram"]["count"].get<std::uint64_t>(), w[0]);
    EXPECT_EQ(e["histogram"]["sum"].get<std::uint64_t>(), w[1]);
    EXPECT_EQ(e["connects"].get<std::uint64_t>(), w[2]);
    if (e["phase"] == "measured") measured += e["messages"].get<std::uint64_t>();
  }
  EXPECT_EQ(measured, jm["messages"].get<std::uint64_t>());
}

TEST(echoload_binary, churn_reports_connections_and_connect_latency) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_file report("", ".json");
  const outcome o =
      run_echoload({"-c", "4", "-n", "200", "--messages-per-connection", "1", "--backend", "epoll",
                    "--json", report.path(), "--progress", "off", server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("a new connection every 1 messages"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("Connections: 200 opened, 200 in the window"), std::string::npos) << o.out;
  const json j = json::parse(report.text());
  EXPECT_EQ(j["connects"], 200);
  EXPECT_EQ(j["connect_histogram"]["count"], 200);
  EXPECT_GT(j["connects_per_sec"].get<double>(), 0);
  EXPECT_GT(j["connect_latency_us"]["p50"].get<double>(), 0);
  EXPECT_EQ(j["config"]["messages-per-connection"], 1);
  for (const char* key : {"refused", "timeout", "no_port", "no_file", "unreachable", "other"}) {
    EXPECT_EQ(j["connect_errors"][key], 0) << key;
  }
  EXPECT_EQ(server.connections_accepted(), 200u);
}

TEST(echoload_binary, refused_connects_are_counted_by_cause) {
  // A port that was just free: nothing listens there.
  std::string target;
  {
    test_server gone(io::backend_kind::epoll, server_behaviour::upper);
    target = gone.target();
  }
  temp_file report("", ".json");
  const outcome o = run_echoload({"-c", "3", "-d", "300ms", "--backend", "epoll", "--json",
                                  report.path(), "--progress", "off", target});
  EXPECT_EQ(o.status, 1) << o.out << o.err;
  EXPECT_NE(o.out.find("connect errors by cause: refused 3"), std::string::npos) << o.out;
  const json j = json::parse(report.text());
  EXPECT_EQ(j["connect_errors"]["refused"], 3);
  EXPECT_EQ(j["errors"]["connect"], 3);
}

// The HdrHistogram log, read by HdrHistogram's JavaScript port (tests/client/hdr, installed by
// scripts/setup.sh with npm ci), agrees with the JSON report of the same open-loop run.
TEST(echoload_binary, the_hdr_log_decodes_with_hdr_histogram_js_and_agrees_with_the_report) {
  const char* node = std::getenv("ECHOLOAD_TEST_NODE");
  ASSERT_TRUE(node != nullptr && *node != '\0')
      << "node was not found at configure time: run scripts/setup.sh (it installs nodejs and "
         "npm, and hdr-histogram-js into tests/client/hdr)";
  const std::string script = source_path("tests/client/hdr/check_hdr_log.js");
  ASSERT_EQ(access(source_path("tests/client/hdr/node_modules/hdr-histogram-js").c_str(), R_OK), 0)
      << "hdr-histogram-js is not installed: run scripts/setup.sh (npm ci in tests/client/hdr)";
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_file report("", ".json"), log("", ".hlog");
  const outcome o = run_echoload({"-c", "4", "--rate", "4000", "-n", "8000", "--warmup", "300ms",
                                  "--backend", "epoll", "--json", report.path(), "--hdr-log",
                                  log.path(), "--progress", "off", server.target()});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  EXPECT_NE(o.out.find("Service Time (uncorrected"), std::string::npos) << o.out;
  const json j = json::parse(report.text());
  EXPECT_TRUE(j["open_loop"].get<bool>());
  EXPECT_EQ(j["service_histogram"]["count"], j["messages"]);
  child_process check({node, script, log.path(), report.path()});
  const auto status = check.wait_exit(60s);
  check.wait_for_stdout("x^", 5s);
  check.wait_for_stderr("x^", 5s);
  ASSERT_TRUE(status.has_value()) << "node did not finish";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << check.stdout_text() << check.stderr_text() << "\nlog:\n"
      << log.text();
}

TEST(echoload_binary, plot_draws_three_pngs_for_several_reports) {
  test_server server(io::backend_kind::epoll, server_behaviour::upper);
  temp_file a("", ".json"), b("", ".json");
  for (const temp_file* p : {&a, &b}) {
    const outcome o =
        run_echoload({"-c", "2", "-d", "1200ms", "--warmup", "300ms", "--backend", "epoll",
                      "--json", p->path(), "--progress", "off", server.target()});
    ASSERT_EQ(o.status, 0) << o.out << o.err;
  }
  char dir_template[] = "/tmp/echoload-plot-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const outcome o = run_echoload({"plot", a.path(), b.path(), "--out", dir});
  ASSERT_EQ(o.status, 0) << o.out << o.err;
  for (const char* name : {"throughput.png", "latency.png", "percentiles.png"}) {
    const std::string png = dir + "/" + name;
    EXPECT_NE(o.out.find(png), std::string::npos) << o.out;
    std::ifstream in(png, std::ios::binary);
    std::string magic(8, '\0');
    in.read(magic.data(), 8);
    EXPECT_EQ(magic, "\x89PNG\r\n\x1a\n") << png;
    in.seekg(0, std::ios::end);
    EXPECT_GT(in.tellg(), 5000) << png;  // a drawn picture, not an empty canvas
  }
  std::ifstream data(dir + "/plot-data/1-percentiles.dat");
  std::string header, first;
  std::getline(data, header);
  std::getline(data, first);
  EXPECT_EQ(first.rfind("1 ", 0), 0u) << first;  // the distribution starts at percentile 0
  std::filesystem::remove_all(dir);

  const outcome missing = run_echoload({"plot", "/nonexistent.json"});
  EXPECT_EQ(missing.status, 2) << missing.err;
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
