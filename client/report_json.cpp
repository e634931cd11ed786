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

double micro_rounded(double x) { return std::round(x * 1e6) / 1e6; }

ordered_json percentiles_json(const histogram& h) {
  ordered_json lat;
  lat["p50"] = us(h.percentile(50));
  lat["p90"] = us(h.percentile(90));
  lat["p99"] = us(h.percentile(99));
  lat["p999"] = us(h.percentile(99.9));
  lat["p9999"] = us(h.percentile(99.99));
  lat["max"] = us(h.max());
  lat["mean"] = rounded(h.mean() / 1000.0);
  return lat;
}

ordered_json histogram_json(const histogram_snapshot& h) {
  ordered_json hist;
  hist["unit"] = "ns";
  hist["count"] = h.count;
  hist["min"] = h.min;
  hist["max"] = h.max;
  hist["sum"] = h.sum;
  ordered_json buckets = ordered_json::array();
  for (const auto& [index, n] : h.buckets) buckets.push_back({histogram::highest_in(index), n});
  hist["buckets"] = std::move(buckets);
  return hist;
}

ordered_json errors_json(const error_counts& e) {
  ordered_json errors;
  for (std::size_t c = 0; c < error_class_count; ++c) {
    errors[error_key(static_cast<error_class>(c))] = e.by_class[c];
  }
  return errors;
}

ordered_json interval_json(const interval& i, bool open_loop) {
  ordered_json j;
  j["second"] = i.second;
  j["offset_s"] = micro_rounded(i.offset_s);
  j["length_s"] = micro_rounded(i.length_s);
  j["phase"] = phase_key(i.when);
  j["messages"] = i.messages;
  j["bytes_sent"] = i.bytes_sent;
  j["bytes_received"] = i.bytes_received;
  j["connects"] = i.connects;
  j["open"] = i.open;
  j["errors"] = errors_json(i.errors);
  const histogram h(i.latency);
  ordered_json lat;
  lat["p50"] = us(h.percentile(50));
  lat["p99"] = us(h.percentile(99));
  lat["max"] = us(h.max());
  j["latency_us"] = std::move(lat);
  j["histogram"] = histogram_json(i.latency);
  if (open_loop) j["service_histogram"] = histogram_json(i.service);
  return j;
}

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

// The histogram object at `path` (see report_schema.md's "histogram").
histogram read_histogram(const reader& r, const json& h, const std::string& path) {
  if (!h.is_object()) r.fail(path, "expected an object, got " + config::describe(h));
  if (r.text(h, path, "unit") != "ns") {
    r.fail(path + ".unit", "expected \"ns\", got " + config::brief(h["unit"]));
  }
  const json& list = r.member(h, path, "buckets");
  if (!list.is_array()) {
    r.fail(path + ".buckets", "expected an array, got " + config::describe(list));
  }
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string item = path + ".buckets[" + std::to_string(i) + "]";
    const json& b = list[i];
    if (!b.is_array() || b.size() != 2) {
      r.fail(item, "expected [upper_bound_ns, count], got " + config::describe(b));
    }
    const std::uint64_t bound = r.count(b[0], item + "[0]");
    const std::size_t index = histogram::index_of(bound);
    if (bound > histogram::max_trackable || histogram::highest_in(index) != bound) {
      r.fail(item + "[0]", std::to_string(bound) + " is not a bucket bound of " +
                               std::string(schema_name) + " (written by another program?)");
    }
    buckets.emplace_back(index, r.count(b[1], item + "[1]"));
  }
  histogram out;
  if (!out.assign(buckets, r.count(h, path, "count"), r.count(h, path, "min"),
                  r.count(h, path, "max"), r.count(h, path, "sum"))) {
    r.fail(path,
           "inconsistent: the bucket counts do not add up to count, or min/max fall "
           "outside the buckets");
  }
  return out;
}

// An optional histogram: empty when the key is absent (reports of earlier echoload/1 writers).
histogram read_optional_histogram(const reader& r, const json& parent, const std::string& path,
                                  const char* key) {
  const auto it = parent.find(key);
  if (it == parent.end()) return {};
  return read_histogram(r, *it, reader::join(path, key));
}

error_counts read_errors(const reader& r, const json& parent, const std::string& path) {
  const json& errors = r.object(parent, path, "errors");
  const std::string p = reader::join(path, "errors");
  error_counts out;
  for (std::size_t c = 0; c < error_class_count; ++c) {
    out.by_class[c] = r.count(errors, p, error_key(static_cast<error_class>(c)));
  }
  return out;
}

interval read_interval(const reader& r, const json& j, const std::string& path) {
  if (!j.is_object()) r.fail(path, "expected an object, got " + config::describe(j));
  interval out;
  const json& second = r.member(j, path, "second");
  if (!second.is_number_integer()) {
    r.fail(path + ".second", "expected Unix seconds (an integer), got " + config::describe(second));
  }
  out.second = second.get<std::int64_t>();
  out.offset_s = r.number(j, path, "offset_s");
  out.length_s = r.number(j, path, "length_s");
  const std::string when = r.text(j, path, "phase");
  if (when == phase_key(phase::warmup)) {
    out.when = phase::warmup;
  } else if (when == phase_key(phase::measured)) {
    out.when = phase::measured;
  } else if (when == phase_key(phase::wind_down)) {
    out.when = phase::wind_down;
  } else {
    r.fail(path + ".phase",
           "expected \"warmup\", \"measured\" or \"wind-down\", got \"" + when + "\"");
  }
  out.messages = r.count(j, path, "messages");
  out.bytes_sent = r.count(j, path, "bytes_sent");
  out.bytes_received = r.count(j, path, "bytes_received");
  out.connects = r.count(j, path, "connects");
  out.open = static_cast<std::int64_t>(r.count(j, path, "open"));
  out.errors = read_errors(r, j, path);
  out.latency = read_histogram(r, r.member(j, path, "histogram"), path + ".histogram").snapshot();
  if (out.latency.count != out.messages) {
    r.fail(path + ".histogram.count", "is " + std::to_string(out.latency.count) +
                                          " but messages is " + std::to_string(out.messages));
  }
  out.service = read_optional_histogram(r, j, path, "service_histogram").snapshot();
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
  j["connects"] = r.connects;
  j["connects_per_sec"] = rounded(r.connects_per_sec);
  j["open_loop"] = r.open_loop;

  const histogram& h = r.latency;
  j["latency_us"] = percentiles_json(h);
  if (r.open_loop) j["service_latency_us"] = percentiles_json(r.service);
  j["connect_latency_us"] = percentiles_json(r.connect_latency);

  ordered_json examples = ordered_json::object();
  for (std::size_t c = 0; c < error_class_count; ++c) {
    if (!r.error_examples[c].empty()) {
      examples[error_key(static_cast<error_class>(c))] = r.error_examples[c];
    }
  }
  j["errors"] = errors_json(r.errors);
  ordered_json connect_errors;
  for (std::size_t c = 0; c < connect_failure_count; ++c) {
    connect_errors[connect_failure_key(static_cast<connect_failure>(c))] = r.connect_errors[c];
  }
  j["connect_errors"] = std::move(connect_errors);
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

  j["histogram"] = histogram_json(h.snapshot());
  if (r.open_loop) j["service_histogram"] = histogram_json(r.service.snapshot());
  j["connect_histogram"] = histogram_json(r.connect_latency.snapshot());
  ordered_json timeline = ordered_json::array();
  for (const interval& i : r.timeline) timeline.push_back(interval_json(i, r.open_loop));
  j["timeline"] = std::move(timeline);

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
  out.connects = r.optional_count(root, "connects");
  if (root.contains("connects_per_sec")) {
    out.connects_per_sec = r.number(root, "", "connects_per_sec");
  }
  if (const auto it = root.find("open_loop"); it != root.end() && it->is_boolean()) {
    out.open_loop = it->get<bool>();
  }
  out.duration_s = r.number(root, "", "duration_s");
  out.messages = r.count(root, "", "messages");
  out.bytes_sent = r.count(root, "", "bytes_sent");
  out.bytes_received = r.count(root, "", "bytes_received");
  out.msgs_per_sec = r.number(root, "", "msgs_per_sec");
  out.mb_per_sec = r.number(root, "", "mb_per_sec");

  out.errors = read_errors(r, root, "");
  if (const auto it = root.find("connect_errors"); it != root.end()) {
    if (!it->is_object()) {
      r.fail("connect_errors", "expected an object, got " + config::describe(*it));
    }
    for (std::size_t c = 0; c < connect_failure_count; ++c) {
      const char* key = connect_failure_key(static_cast<connect_failure>(c));
      if (it->contains(key)) out.connect_errors[c] = r.count(*it, "connect_errors", key);
    }
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

  out.latency = read_histogram(r, r.member(root, "", "histogram"), "histogram");
  out.service = read_optional_histogram(r, root, "", "service_histogram");
  out.connect_latency = read_optional_histogram(r, root, "", "connect_histogram");
  if (const auto it = root.find("timeline"); it != root.end()) {
    if (!it->is_array()) r.fail("timeline", "expected an array, got " + config::describe(*it));
    for (std::size_t i = 0; i < it->size(); ++i) {
      out.timeline.push_back(read_interval(r, (*it)[i], "timeline[" + std::to_string(i) + "]"));
    }
  }
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
