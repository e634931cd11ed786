// JSON report writer and reader (see report_json.hpp and report_schema.md).
#include "client/report_json.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "client/report_text.hpp"
#include "config/json_reader.hpp"

namespace echod::client {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Three decimals: microseconds to the nanosecond, rates to a thousandth.
double rounded(double x) { return std::round(x * 1000.0) / 1000.0; }
double us(std::uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

ordered_json machine_json(const machine_info& m) {
  ordered_json j;
  j["cores"] = m.cores;
  j["kernel"] = m.kernel;
  j["cpu"] = m.cpu;
  return j;
}

// ---- reading: typed getters that name the path of whatever is wrong ----

class reader {
 public:
  explicit reader(std::string_view source) : errors_(std::string(source)) {}

  [[noreturn]] void fail(const std::string& path, std::string reason) const {
    errors_.fail(path, std::move(reason));
  }

  const json& member(const json& object, const std::string& path, const char* key) const {
    const auto it = object.find(key);
    if (it == object.end())
      fail(join(path, key), "missing (required by " + std::string(schema_name) + ")");
    return *it;
  }
  const json& object(const json& parent, const std::string& path, const char* key) const {
    const json& v = member(parent, path, key);
    if (!v.is_object()) fail(join(path, key), "expected an object, got " + config::describe(v));
    return v;
  }
  std::uint64_t count(const json& v, const std::string& path) const {
    if (!v.is_number_unsigned()) {
      fail(path, "expected a non-negative integer, got " + config::describe(v));
    }
    return v.get<std::uint64_t>();
  }
  std::uint64_t count(const json& parent, const std::string& path, const char* key) const {
    return count(member(parent, path, key), join(path, key));
  }
  double number(const json& parent, const std::string& path, const char* key) const {
    const json& v = member(parent, path, key);
    if (!v.is_number() || v.get<double>() < 0) {
      fail(join(path, key), "expected a non-negative number, got " + config::describe(v));
    }
    return v.get<double>();
  }
  std::string text(const json& parent, const std::string& path, const char* key) const {
    const json& v = member(parent, path, key);
    if (!v.is_string()) fail(join(path, key), "expected a string, got " + config::describe(v));
    return v.get<std::string>();
  }
  std::string optional_text(const json& parent, const char* key) const {
    const auto it = parent.find(key);
    return it != parent.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
  std::uint64_t optional_count(const json& parent, const char* key) const {
    const auto it = parent.find(key);
    return it != parent.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
  }

  static std::string join(const std::string& path, const char* key) {
    return path.empty() ? std::string(key) : path + "." + key;
  }

 private:
  config::error_context errors_;
};

machine_info read_machine(const reader& r, const json& parent, const std::string& path) {
  const json& m = r.object(parent, path, "machine");
  const std::string p = reader::join(path, "machine");
  machine_info out;
  out.cores = static_cast<unsigned>(r.count(m, p, "cores"));
  out.kernel = r.text(m, p, "kernel");
  out.cpu = r.text(m, p, "cpu");
  return out;
}

histogram read_histogram(const reader& r, const json& root) {
  const json& h = r.object(root, "", "histogram");
  if (r.text(h, "histogram", "unit") != "ns") {
    r.fail("histogram.unit", "expected \"ns\", got " + config::brief(h["unit"]));
  }
  const json& list = r.member(h, "histogram", "buckets");
  if (!list.is_array()) {
    r.fail("histogram.buckets", "expected an array, got " + config::describe(list));
  }
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "histogram.buckets[" + std::to_string(i) + "]";
    const json& b = list[i];
    if (!b.is_array() || b.size() != 2) {
      r.fail(path, "expected [upper_bound_ns, count], got " + config::describe(b));
    }
    const std::uint64_t bound = r.count(b[0], path + "[0]");
    const std::size_t index = histogram::index_of(bound);
    if (bound > histogram::max_trackable || histogram::highest_in(index) != bound) {
      r.fail(path + "[0]", std::to_string(bound) + " is not a bucket bound of " +
                               std::string(schema_name) + " (written by another program?)");
    }
    buckets.emplace_back(index, r.count(b[1], path + "[1]"));
  }
  histogram out;
  if (!out.assign(buckets, r.count(h, "histogram", "count"), r.count(h, "histogram", "min"),
                  r.count(h, "histogram", "max"), r.count(h, "histogram", "sum"))) {
    r.fail("histogram",
           "inconsistent: the bucket counts do not add up to count, or min/max fall "
           "outside the buckets");
  }
  return out;
}

}  // namespace

std::string to_json_text(const run_result& r) {
  ordered_json j;
  j["schema"] = schema_name;
  j["target"] = r.target;
  ordered_json config = ordered_json::parse(r.config_json, nullptr, false);
  j["config"] = config.is_object() ? std::move(config) : ordered_json::object();
  j["machine"] = machine_json(r.machine);
  j["started_at"] = r.started_at;
  j["backend"] = r.backend;
  j["threads"] = r.threads;
  j["connections"] = r.connections;
  j["connections_opened"] = r.connections_opened;
  j["duration_s"] = rounded(r.duration_s);
  j["messages"] = r.messages;
  j["bytes_sent"] = r.bytes_sent;
  j["bytes_received"] = r.bytes_received;
  j["msgs_per_sec"] = rounded(r.msgs_per_sec);
  j["mb_per_sec"] = rounded(r.mb_per_sec);

  const histogram& h = r.latency;
  ordered_json lat;
  lat["p50"] = us(h.percentile(50));
  lat["p90"] = us(h.percentile(90));
  lat["p99"] = us(h.percentile(99));
  lat["p999"] = us(h.percentile(99.9));
  lat["p9999"] = us(h.percentile(99.99));
  lat["max"] = us(h.max());
  lat["mean"] = rounded(h.mean() / 1000.0);
  j["latency_us"] = lat;

  ordered_json errors;
  ordered_json examples = ordered_json::object();
  for (std::size_t c = 0; c < error_class_count; ++c) {
    const char* key = error_key(static_cast<error_class>(c));
    errors[key] = r.errors.by_class[c];
    if (!r.error_examples[c].empty()) examples[key] = r.error_examples[c];
  }
  j["errors"] = errors;
  j["error_examples"] = examples;
  j["notes"] = r.notes;
  j["ok"] = r.ok();
  j["verdict"] = verdict_line(r);

  const fairness_stats f = fairness_of(r.per_connection);
  ordered_json fair;
  fair["min"] = f.min;
  fair["median"] = f.median;
  fair["max"] = f.max;
  fair["per_connection"] = r.per_connection;
  j["fairness"] = fair;

  ordered_json hist;
  hist["unit"] = "ns";
  hist["count"] = h.count();
  hist["min"] = h.min();
  hist["max"] = h.max();
  hist["sum"] = h.sum();
  ordered_json buckets = ordered_json::array();
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.bucket(i) != 0) buckets.push_back({histogram::highest_in(i), h.bucket(i)});
  }
  hist["buckets"] = std::move(buckets);
  j["histogram"] = std::move(hist);

  if (!r.runs.empty()) {
    ordered_json runs = ordered_json::array();
    for (const run_summary& s : r.runs) {
      ordered_json one;
      one["target"] = s.target;
      one["started_at"] = s.started_at;
      one["machine"] = machine_json(s.machine);
      one["duration_s"] = rounded(s.duration_s);
      one["messages"] = s.messages;
      one["msgs_per_sec"] = rounded(s.msgs_per_sec);
      runs.push_back(std::move(one));
    }
    j["runs"] = std::move(runs);
  }
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

run_result from_json_text(std::string_view text, std::string_view source) {
  const json root = config::parse_json(text, source);
  reader r(source);
  if (!root.is_object()) r.fail("", "expected an echoload report (a JSON object)");
  const std::string schema = r.text(root, "", "schema");
  if (schema != schema_name) {
    r.fail("schema", "expected \"" + std::string(schema_name) + "\", got \"" + schema + "\"");
  }
  run_result out;
  out.target = r.text(root, "", "target");
  r.object(root, "", "config");
  // Again in document order: the config is printed back as its author (echoload) wrote it.
  out.config_json = ordered_json::parse(text)["config"].dump();
  out.machine = read_machine(r, root, "");
  out.started_at = r.optional_text(root, "started_at");
  out.backend = r.optional_text(root, "backend");
  out.threads = static_cast<unsigned>(r.optional_count(root, "threads"));
  out.connections = static_cast<unsigned>(r.optional_count(root, "connections"));
  out.connections_opened = r.optional_count(root, "connections_opened");
  out.duration_s = r.number(root, "", "duration_s");
  out.messages = r.count(root, "", "messages");
  out.bytes_sent = r.count(root, "", "bytes_sent");
  out.bytes_received = r.count(root, "", "bytes_received");
  out.msgs_per_sec = r.number(root, "", "msgs_per_sec");
  out.mb_per_sec = r.number(root, "", "mb_per_sec");

  const json& errors = r.object(root, "", "errors");
  for (std::size_t c = 0; c < error_class_count; ++c) {
    out.errors.by_class[c] = r.count(errors, "errors", error_key(static_cast<error_class>(c)));
  }
  if (const auto it = root.find("error_examples"); it != root.end() && it->is_object()) {
    for (std::size_t c = 0; c < error_class_count; ++c) {
      out.error_examples[c] = r.optional_text(*it, error_key(static_cast<error_class>(c)));
    }
  }
  if (const auto it = root.find("notes"); it != root.end() && it->is_array()) {
    for (const json& n : *it) {
      if (n.is_string()) out.notes.push_back(n.get<std::string>());
    }
  }

  const json& fair = r.object(root, "", "fairness");
  const json& per = r.member(fair, "fairness", "per_connection");
  if (!per.is_array()) {
    r.fail("fairness.per_connection", "expected an array, got " + config::describe(per));
  }
  for (std::size_t i = 0; i < per.size(); ++i) {
    out.per_connection.push_back(
        r.count(per[i], "fairness.per_connection[" + std::to_string(i) + "]"));
  }

  out.latency = read_histogram(r, root);
  if (out.latency.count() != out.messages) {
    r.fail("histogram.count", "is " + std::to_string(out.latency.count()) + " but messages is " +
                                  std::to_string(out.messages));
  }

  if (const auto it = root.find("runs"); it != root.end()) {
    if (!it->is_array()) r.fail("runs", "expected an array, got " + config::describe(*it));
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string path = "runs[" + std::to_string(i) + "]";
      const json& one = (*it)[i];
      if (!one.is_object()) r.fail(path, "expected an object, got " + config::describe(one));
      run_summary s;
      s.target = r.text(one, path, "target");
      s.started_at = r.optional_text(one, "started_at");
      s.machine = read_machine(r, one, path);
      s.duration_s = r.number(one, path, "duration_s");
      s.messages = r.count(one, path, "messages");
      s.msgs_per_sec = r.number(one, path, "msgs_per_sec");
      out.runs.push_back(std::move(s));
    }
  }
  return out;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot write: " + std::strerror(errno));
  out << text;
  out.flush();
  if (!out) throw std::runtime_error(path + ": write failed: " + std::strerror(errno));
}

}  // namespace echod::client
