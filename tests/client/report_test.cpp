// Reports: the JSON has every schema key, reads back to the same result, rejects what merge
// cannot trust (naming the path); merge is exact; the text report reads like wrk's and ends in
// the verdict.
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "client/merge.hpp"
#include "client/report_json.hpp"
#include "client/report_text.hpp"
#include "config/config_error.hpp"

namespace echod::client {
namespace {

using json = nlohmann::json;

run_result sample_result(unsigned seed, std::size_t connections) {
  run_result r;
  r.target = "127.0.0.1:7007";
  r.config_json = R"({"target":"127.0.0.1:7007","threads":2,"connections":)" +
                  std::to_string(connections) + R"(,"duration":"10s","size":64})";
  r.machine = {2, "6.1.0", "Test CPU"};
  r.started_at = "2024-05-01T12:00:0" + std::to_string(seed) + "Z";
  r.backend = "epoll";
  r.threads = 2;
  r.connections = static_cast<unsigned>(connections);
  r.connections_opened = connections;
  r.duration_s = 10.0 + seed;
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(11.0, 1.0);
  for (std::size_t c = 0; c < connections; ++c) {
    const std::uint64_t n = 100 + rng() % 50;
    r.per_connection.push_back(n);
    for (std::uint64_t i = 0; i < n; ++i)
      r.latency.record(static_cast<std::uint64_t>(latency(rng)));
  }
  r.messages = r.latency.count();
  r.bytes_sent = r.messages * 64 + 64;
  r.bytes_received = r.messages * 64;
  r.msgs_per_sec = static_cast<double>(r.messages) / r.duration_s;
  r.mb_per_sec = static_cast<double>(r.bytes_sent) / r.duration_s / 1e6;
  return r;
}

TEST(report_json, has_every_schema_key) {
  const json j = json::parse(to_json_text(sample_result(1, 10)));
  for (const char* key : {"schema", "target", "config", "machine", "duration_s", "messages",
                          "bytes_sent", "bytes_received", "msgs_per_sec", "mb_per_sec",
                          "latency_us", "errors", "fairness", "histogram"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["schema"], "echoload/1");
  for (const char* key : {"cores", "kernel", "cpu"}) EXPECT_TRUE(j["machine"].contains(key)) << key;
  for (const char* key : {"p50", "p90", "p99", "p999", "p9999", "max", "mean"}) {
    EXPECT_TRUE(j["latency_us"][key].is_number()) << key;
  }
  for (const char* key : {"connect", "timeout", "reset", "short", "mismatch", "other"}) {
    EXPECT_TRUE(j["errors"][key].is_number_unsigned()) << key;
  }
  for (const char* key : {"min", "median", "max"})
    EXPECT_TRUE(j["fairness"][key].is_number()) << key;
  EXPECT_EQ(j["histogram"]["unit"], "ns");
  ASSERT_TRUE(j["histogram"]["buckets"].is_array());
  for (const json& b : j["histogram"]["buckets"]) {
    ASSERT_EQ(b.size(), 2u);
    EXPECT_GT(b[1].get<std::uint64_t>(), 0u);  // non-empty buckets only
  }
  EXPECT_EQ(j["config"]["connections"], 10);
  EXPECT_TRUE(j["ok"].get<bool>());
}

TEST(report_json, reads_back_the_same_result) {
  run_result r = sample_result(2, 20);
  r.errors[error_class::timeout] = 3;
  r.error_examples[static_cast<std::size_t>(error_class::timeout)] = "connection 1: timed out";
  r.notes.push_back("a note");
  const run_result back = from_json_text(to_json_text(r), "r.json");
  EXPECT_EQ(back.latency, r.latency);
  EXPECT_EQ(back.messages, r.messages);
  EXPECT_EQ(back.bytes_sent, r.bytes_sent);
  EXPECT_EQ(back.errors, r.errors);
  EXPECT_EQ(back.error_examples, r.error_examples);
  EXPECT_EQ(back.per_connection, r.per_connection);
  EXPECT_EQ(back.machine, r.machine);
  EXPECT_EQ(back.notes, r.notes);
  EXPECT_EQ(back.config_json, r.config_json);  // key order kept
  EXPECT_EQ(to_json_text(back), to_json_text(r));
}

std::string read_error(const std::string& text) {
  try {
    from_json_text(text, "bad.json");
  } catch (const config::config_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(report_json, reading_names_the_file_and_path_of_what_is_wrong) {
  json j = json::parse(to_json_text(sample_result(3, 5)));
  json k = j;
  k["schema"] = "wrk/1";
  EXPECT_EQ(read_error(k.dump()), "bad.json: schema: expected \"echoload/1\", got \"wrk/1\"");
  k = j;
  k.erase("histogram");
  EXPECT_EQ(read_error(k.dump()), "bad.json: histogram: missing (required by echoload/1)");
  k = j;
  k["histogram"]["buckets"][0] = json::array({1001, 1});  // 1001 is inside a bucket
  EXPECT_NE(read_error(k.dump()).find("bad.json: histogram.buckets[0][0]: 1001 is not a bucket "),
            std::string::npos);
  k = j;
  k["histogram"]["buckets"][1][1] = 999999;
  EXPECT_NE(read_error(k.dump()).find("bad.json: histogram: inconsistent"), std::string::npos);
  k = j;
  k["errors"]["mismatch"] = -1;
  EXPECT_EQ(read_error(k.dump()),
            "bad.json: errors.mismatch: expected a non-negative integer, got number -1");
  EXPECT_NE(read_error("{").find("bad.json:1:2: invalid JSON"), std::string::npos);
}

TEST(merge, is_exact) {
  const run_result a = sample_result(4, 30);
  run_result b = sample_result(5, 40);
  b.errors[error_class::mismatch] = 2;
  const run_result m = merge_results(
      {from_json_text(to_json_text(a), "a.json"), from_json_text(to_json_text(b), "b.json")});
  histogram both = a.latency;
  both.merge(b.latency);
  EXPECT_EQ(m.latency, both);
  EXPECT_EQ(m.messages, a.messages + b.messages);
  EXPECT_EQ(m.bytes_sent, a.bytes_sent + b.bytes_sent);
  EXPECT_EQ(m.bytes_received, a.bytes_received + b.bytes_received);
  EXPECT_NEAR(m.msgs_per_sec, a.msgs_per_sec + b.msgs_per_sec, 0.002);  // concurrent runs
  EXPECT_DOUBLE_EQ(m.duration_s, std::max(a.duration_s, b.duration_s));
  EXPECT_EQ(m.errors[error_class::mismatch], 2u);
  EXPECT_EQ(m.connections, 70u);
  EXPECT_EQ(m.per_connection.size(), 70u);
  EXPECT_EQ(m.runs.size(), 2u);
  EXPECT_EQ(m.target, "127.0.0.1:7007");
  EXPECT_FALSE(m.ok());
  // A merge of merges is the merge of everything.
  const run_result c = sample_result(6, 5);
  const run_result mm = merge_results({from_json_text(to_json_text(m), "m.json"), c});
  const run_result flat = merge_results({a, b, c});
  EXPECT_EQ(mm.latency, flat.latency);
  EXPECT_EQ(mm.runs.size(), 3u);
  EXPECT_EQ(mm.per_connection, flat.per_connection);
}

TEST(report_text, reads_like_wrk_and_ends_with_the_verdict) {
  run_result r = sample_result(7, 10);
  std::string text = format_text_report(r);
  EXPECT_EQ(text.find("Running 10s test @ 127.0.0.1:7007\n"), 0u) << text;
  EXPECT_NE(text.find("  2 threads and 10 connections"), std::string::npos) << text;
  EXPECT_NE(text.find("Latency Distribution"), std::string::npos);
  EXPECT_NE(text.find("99.99%"), std::string::npos);
  EXPECT_NE(text.find("Requests/sec:"), std::string::npos);
  EXPECT_NE(text.find("Transfer/sec:"), std::string::npos);
  EXPECT_NE(text.find("Errors: connect 0, timeout 0, reset 0, short 0, mismatch 0, other 0"),
            std::string::npos);
  EXPECT_NE(text.find("OK: every reply verified (" + std::to_string(r.messages) + " messages)\n"),
            std::string::npos)
      << text;

  r.errors[error_class::mismatch] = 1;
  r.error_examples[static_cast<std::size_t>(error_class::mismatch)] = "connection 0: differs";
  text = format_text_report(r);
  EXPECT_NE(text.find("  first mismatch: connection 0: differs"), std::string::npos) << text;
  EXPECT_NE(text.find("FAILED: 1 error (mismatch 1)"), std::string::npos) << text;
}

TEST(report_text, units_follow_wrk) {
  EXPECT_EQ(format_latency_ns(812'000), "812.00us");
  EXPECT_EQ(format_latency_ns(1'250'000), "1.25ms");
  EXPECT_EQ(format_latency_ns(2'500'000'000), "2.50s");
  EXPECT_EQ(format_bytes(812), "812B");
  EXPECT_EQ(format_bytes(80'000'000), "80.00MB");
}

}  // namespace
}  // namespace echod::client
