// echoload's option keys, their JSON types and ranges, and their printed form. The generic
// machinery (located errors, unknown keys, sizes and durations) is config/json_reader.hpp's.
#include "client/options.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "config/host_port.hpp"
#include "config/json_reader.hpp"
#include "config/units.hpp"
#include "io/address.hpp"

namespace echod::client {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// A year: far beyond any useful test, and well inside int64 nanoseconds.
constexpr double max_seconds = 365.0 * 24 * 3600;
constexpr double max_rate = 1e9;  // messages (or connections) per second

// Durations print as "10s"; whole numbers print as 10, not 10.0.
ordered_json seconds_value(std::chrono::nanoseconds d) { return config::format_duration(d); }

ordered_json number_value(double x) {
  if (std::floor(x) == x && x >= 0 && x < 9007199254740992.0) {
    return static_cast<std::uint64_t>(x);
  }
  return x;
}

// A plain number in [lo, hi]; json_reader has integers, sizes and durations but no rates.
void read_number(config::object_reader& r, std::string_view key, double& out, double lo,
                 double hi) {
  const json* v = r.find(key);
  if (v == nullptr) return;
  if (!v->is_number()) r.fail(key, "expected a number, got " + config::describe(*v));
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) {
    r.fail(key, "must be between " + number_value(lo).dump() + " and " + number_value(hi).dump() +
                    ", got " + config::brief(*v));
  }
  out = x;
}

void read_duration(config::object_reader& r, std::string_view key, std::chrono::nanoseconds& out,
                   bool zero_allowed, bool* set = nullptr) {
  if (r.find(key) == nullptr) return;
  r.read_duration(key, out, 0, max_seconds, zero_allowed);
  if (set != nullptr) *set = true;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// "127.0.0.2,127.0.0.3" or ["127.0.0.2", "127.0.0.3"]; each checked to be an IP address.
void read_source(config::object_reader& r, std::vector<std::string>& out) {
  const json* v = r.find("source");
  if (v == nullptr) return;
  const std::string path = r.path_of("source");
  std::vector<std::string> items;
  std::vector<std::string> paths;
  if (v->is_string()) {
    const std::string& text = v->get_ref<const std::string&>();
    if (!text.empty()) items = split_list(text);
    paths.assign(items.size(), path);
  } else if (v->is_array()) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      if (!(*v)[i].is_string()) {
        r.errors().fail(item_path,
                        "expected an IP address string, got " + config::describe((*v)[i]));
      }
      items.push_back((*v)[i].get<std::string>());
      paths.push_back(item_path);
    }
  } else {
    r.fail("source", "expected \"ADDR,ADDR,...\" or an array of IP address strings, got " +
                         config::describe(*v));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& a = items[i];
    if (a.empty() || !io::address::parse(config::with_port(a, 0))) {
      r.errors().fail(paths[i], "\"" + a + "\" is not an IP address (e.g. 127.0.0.2 or ::1)");
    }
  }
  out = std::move(items);
}

void read_payload(config::object_reader& r, std::string& out) {
  const json* v = r.find("payload");
  if (v == nullptr) return;
  if (!v->is_string()) {
    r.fail("payload",
           "expected \"ascii\", \"random\" or \"file:PATH\", got " + config::describe(*v));
  }
  const std::string& text = v->get_ref<const std::string&>();
  const bool file = text.rfind("file:", 0) == 0;
  if (!(text == "ascii" || text == "random" || (file && text.size() > 5))) {
    r.fail("payload", "must be ascii, random or file:PATH, got " + config::brief(*v));
  }
  out = text;
}

void read_target(config::object_reader& r, std::string& out) {
  const json* v = r.find("target");
  if (v == nullptr) return;
  if (!v->is_string()) {
    r.fail("target", "expected a \"host:port\" string, got " + config::describe(*v));
  }
  const auto a = io::address::parse(v->get_ref<const std::string&>());
  if (!a) r.fail("target", a.error());
  if (a->port() == 0) r.fail("target", "port 0 is not a service port: give the server's port");
  out = v->get<std::string>();
}

bool is_numeric_key(std::string_view key) {
  constexpr std::string_view keys[] = {"threads",
                                       "connections",
                                       "duration",
                                       "messages",
                                       "size",
                                       "pipeline",
                                       "rate",
                                       "connect-rate",
                                       "warmup",
                                       "timeout",
                                       "messages-per-connection"};
  return std::find(std::begin(keys), std::end(keys), key) != std::end(keys);
}

}  // namespace

void read_options(std::string_view json_text, std::string_view source, options& out) {
  config::error_context errors{std::string(source)};
  const json root = config::parse_json(json_text, source);
  options o = out;  // all or nothing: a failing read leaves `out` as it was
  config::object_reader r(root, "", errors);
  read_target(r, o.target);
  r.read_uint("threads", o.threads, 1, max_threads);
  r.read_uint("connections", o.connections, 1, max_connections);
  read_duration(r, "duration", o.duration, false, &o.duration_set);
  r.read_uint("messages", o.messages, 0, std::uint64_t{1} << 53);
  o.size_set = o.size_set || r.find("size") != nullptr;
  r.read_size("size", o.size, 1, max_message_size);
  read_payload(r, o.payload);
  r.read_uint("pipeline", o.pipeline, 1, max_pipeline);
  read_number(r, "rate", o.rate, 0, max_rate);
  read_number(r, "connect-rate", o.connect_rate, 0, max_rate);
  r.read_uint("messages-per-connection", o.messages_per_connection, 0, std::uint64_t{1} << 53);
  read_duration(r, "warmup", o.warmup, true);
  read_duration(r, "timeout", o.timeout, false);
  read_source(r, o.source);
  r.read_enum("expect", o.expect, {"upper", "echo"});
  r.read_choice("backend", o.backend);
  r.read_string("json", o.json);
  r.read_string("hdr-log", o.hdr_log);
  r.read_enum("progress", o.progress, {"auto", "on", "off"});
  r.finish();
  out = std::move(o);
}

void load_options_file(const std::string& path, options& out) {
  read_options(config::read_text_file(path), path, out);
}

void validate(const options& o) {
  const auto fail = [](std::string path, std::string reason) {
    throw config::config_error("options", std::move(path), std::move(reason));
  };
  if (o.target.empty()) {
    fail("target", "missing: give the service as HOST:PORT, e.g. 127.0.0.1:7007");
  }
  const auto target = io::address::parse(o.target);
  if (!target) fail("target", "expected HOST:PORT, got \"" + o.target + "\"");
  for (const std::string& s : o.source) {
    const bool v6 = s.find(':') != std::string::npos;
    if (v6 != (target->family() == AF_INET6)) {
      fail("source", "\"" + s + "\" is not of the same address family as the target " + o.target);
    }
  }
  if (o.messages > 0 && o.messages < o.connections) {
    fail("messages", std::to_string(o.messages) + " is fewer than the " +
                         std::to_string(o.connections) +
                         " connections: each needs at least one message (use fewer, -c)");
  }
}

std::string options_to_json(const options& o, int indent) {
  // ordered_json keeps the flags' order; plain json would sort the keys.
  ordered_json j;
  j["target"] = o.target;
  j["threads"] = o.threads;
  j["connections"] = o.connections;
  if (o.time_limited()) j["duration"] = seconds_value(o.duration);
  j["messages"] = o.messages;
  j["size"] = o.size;
  j["payload"] = o.payload;
  j["pipeline"] = o.pipeline;
  j["rate"] = number_value(o.rate);
  j["connect-rate"] = number_value(o.connect_rate);
  j["messages-per-connection"] = o.messages_per_connection;
  j["warmup"] = seconds_value(o.warmup);
  j["timeout"] = seconds_value(o.timeout);
  j["source"] = o.source;
  j["expect"] = o.expect;
  j["backend"] = config::name_of(o.backend);
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

std::string flags_to_json(const std::vector<std::pair<std::string, std::string>>& flags) {
  json j = json::object();
  for (const auto& [key, text] : flags) {
    json value = text;
    if (is_numeric_key(key)) {
      // A number when the whole text is one: "-d 10" is ten seconds, as wrk reads it.
      json parsed = json::parse(text, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_number()) value = std::move(parsed);
    }
    j[key] = std::move(value);
  }
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace echod::client
