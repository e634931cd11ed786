// echod's config fields: their JSON names, types and ranges (parse_server_config) and their
// printed form (to_json). The generic machinery (paths in errors, overrides, unknown keys) is in
// json_reader.cpp; sizes and durations in units.cpp; listen syntax in host_port.cpp.
#include "config/server_config.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

#include <nlohmann/json.hpp>

#include "config/host_port.hpp"
#include "config/json_reader.hpp"
#include "config/units.hpp"

namespace echod::config {
namespace {

using json = nlohmann::json;

// A year. Far beyond any useful timeout, and it keeps seconds * 1e9 well inside the int64
// nanoseconds (about 292 years) the runtime converts timeouts to.
constexpr double max_timeout_seconds = 365.0 * 24 * 3600;

// cpu_set_t holds CPU_SETSIZE (1024) CPUs; ids past that need dynamic sets nobody here uses.
constexpr int max_cpu_id = 1023;

void read_listen(object_reader& r, std::vector<std::string>& out) {
  const json* v = r.find("listen");
  if (v == nullptr) return;
  const std::string path = r.path_of("listen");
  std::vector<std::string> entries;
  std::vector<std::string> paths;
  if (v->is_string()) {
    entries.push_back(v->get<std::string>());
    paths.push_back(path);
  } else if (v->is_array()) {
    if (v->empty()) r.fail("listen", "must not be empty: give at least one \"host:port\"");
    for (std::size_t i = 0; i < v->size(); ++i) {
      const std::string item_path = path + "[" + std::to_string(i) + "]";
      const json& item = (*v)[i];
      if (!item.is_string()) {
        r.errors().fail(item_path, "expected a \"host:port\" string, got " + describe(item));
      }
      entries.push_back(item.get<std::string>());
      paths.push_back(item_path);
    }
  } else {
    r.fail("listen", "expected a \"host:port\" string or an array of them, got " + describe(*v));
  }

  // Duplicates are compared in canonical form: ":7007" and "0.0.0.0:7007" bind the same socket.
  // Port 0 never collides: each such listener gets its own ephemeral port.
  std::vector<std::string> seen;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto address = parse_host_port(entries[i]);
    if (!address) r.errors().fail(paths[i], address.error());
    std::string canonical = address->port == 0 ? "" : address->canonical();
    const auto same = std::find(seen.begin(), seen.end(), canonical);
    if (!canonical.empty() && same != seen.end()) {
      const auto j = static_cast<std::size_t>(same - seen.begin());
      r.errors().fail(paths[i], "\"" + entries[i] + "\" is the same address as " + paths[j] +
                                    " (\"" + entries[j] + "\")");
    }
    seen.push_back(std::move(canonical));
  }
  out = std::move(entries);
}

// The admin endpoint: one "host:port" like a listen entry, or null / "" for none. It must not be
// one of the listen addresses (the bind would fail at start with a less obvious message).
void read_admin(object_reader& r, const std::vector<std::string>& listen, std::string& out) {
  const json* v = r.find("admin");
  if (v == nullptr || v->is_null()) {
    if (v != nullptr) out.clear();
    return;
  }
  if (!v->is_string()) {
    r.fail("admin",
           "expected a \"host:port\" string, \"\" or null (disabled), got " + describe(*v));
  }
  std::string text = v->get<std::string>();
  if (text.empty()) {
    out.clear();
    return;
  }
  const auto address = parse_host_port(text);
  if (!address) r.fail("admin", address.error());
  for (const std::string& entry : listen) {
    const auto other = parse_host_port(entry);
    if (address->port != 0 && other && other->canonical() == address->canonical()) {
      r.fail("admin", "\"" + text + "\" is the same address as listen entry \"" + entry +
                          "\": the admin endpoint needs its own port");
    }
  }
  out = std::move(text);
}

// The master's PID file: a path (relative ones are from echod's working directory), or null / ""
// for none. Only the form is checked here; whether the directory is writable is found at start.
void read_pid_file(object_reader& r, std::string& out) {
  const json* v = r.find("pid_file");
  if (v == nullptr || v->is_null()) {
    if (v != nullptr) out.clear();
    return;
  }
  if (!v->is_string()) {
    r.fail("pid_file", "expected a file path string, \"\" or null (none), got " + describe(*v));
  }
  std::string text = v->get<std::string>();
  if (text.find('\0') != std::string::npos) r.fail("pid_file", "must not contain a NUL byte");
  if (!text.empty() && text.back() == '/') {
    r.fail("pid_file", "must name a file, not a directory, got " + brief(*v));
  }
  out = std::move(text);
}

void read_cpu_affinity(object_reader& r, cpu_affinity_mode& mode, std::vector<int>& cpus) {
  const json* v = r.find("cpu_affinity");
  if (v == nullptr) return;
  const std::string path = r.path_of("cpu_affinity");
  if (v->is_string()) {
    const auto& text = v->get_ref<const std::string&>();
    if (text == "none") {
      mode = cpu_affinity_mode::none;
    } else if (text == "auto") {
      mode = cpu_affinity_mode::automatic;
    } else {
      r.fail("cpu_affinity",
             "must be one of none, auto (or an array of CPU ids), got " + brief(*v));
    }
    cpus.clear();
    return;
  }
  if (!v->is_array()) {
    r.fail("cpu_affinity",
           "expected \"none\", \"auto\" or an array of CPU ids, got " + describe(*v));
  }
  if (v->empty()) {
    r.fail("cpu_affinity", "must not be empty: list at least one CPU id, or use \"none\"");
  }
  std::vector<int> ids;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    const json& item = (*v)[i];
    if (!item.is_number_integer()) {
      r.errors().fail(item_path, "expected a CPU id (an integer), got " + describe(item));
    }
    if (!item.is_number_unsigned() || item.get<std::uint64_t>() > max_cpu_id) {
      r.errors().fail(item_path, "must be between 0 and " + std::to_string(max_cpu_id) + ", got " +
                                     brief(item));
    }
    const int id = item.get<int>();
    const auto same = std::find(ids.begin(), ids.end(), id);
    if (same != ids.end()) {
      r.errors().fail(item_path, "CPU " + std::to_string(id) + " is already listed at " + path +
                                     "[" + std::to_string(same - ids.begin()) + "]");
    }
    ids.push_back(id);
  }
  mode = cpu_affinity_mode::list;
  cpus = std::move(ids);
}

// The HTTP deadlines (header, body, keep-alive): see http_limits.
void read_http_deadlines(object_reader& h, http_limits& http) {
  h.read_duration("header_timeout", http.header_timeout, 0, max_timeout_seconds, true);
  h.read_duration("body_timeout", http.body_timeout, 0, max_timeout_seconds, true);
  h.read_size("body_min_rate", http.body_min_rate, 0, 1 << 30);
  h.read_duration("keepalive_timeout", http.keepalive_timeout, 0, max_timeout_seconds, false);
}

void read_http(object_reader& r, http_limits& http) {
  const json* v = r.find("http");
  if (v == nullptr) return;
  object_reader h(*v, r.path_of("http"), r.errors());
  h.read_size("max_header_bytes", http.max_header_bytes, 256, 1 << 20);
  h.read_size("max_body_bytes", http.max_body_bytes, 0, 1 << 30);
  read_http_deadlines(h, http);
  h.finish();
}

// The overload block: threshold and grace of oldest-first idle eviction (see overload_policy).
void read_overload(object_reader& r, overload_policy& o) {
  const json* v = r.find("overload");
  if (v == nullptr) return;
  object_reader h(*v, r.path_of("overload"), r.errors());
  h.read_bool("enabled", o.enabled);
  h.read_uint("threshold_percent", o.threshold_percent, 1, 100);
  h.read_duration("idle_grace", o.idle_grace, 0, max_timeout_seconds, true);
  h.finish();
}

bool is_power_of_two(unsigned n) { return n != 0 && (n & (n - 1)) == 0; }

json auto_or_count(unsigned n) { return n == 0 ? json("auto") : json(n); }

// 300, not 300.0; fractions stay exact (nlohmann prints the shortest round-tripping form).
json seconds(duration d) {
  const double value = to_seconds(d);
  if (std::floor(value) == value && value >= 0 && value < 9007199254740992.0) {
    return json(static_cast<std::uint64_t>(value));
  }
  return json(value);
}

}  // namespace

// A function-try-block: the reader's boundary. parse_json and the reads throw config_error only,
// but an exception from nlohmann that slipped past them must still end as a config error, never
// escape into the master (where a reload would take the service down).
server_config parse_server_config(std::string_view json_text, std::string_view source_name,
                                  const std::vector<std::string>& overrides) try {
  error_context errors{std::string(source_name)};
  json root = parse_json(json_text, source_name);
  apply_overrides(root, overrides, errors);

  server_config c;
  object_reader r(root, "", errors);
  read_listen(r, c.listen);
  r.read_choice("service", c.service);
  r.read_choice("backend", c.backend);
  r.read_uint_or_auto("processes", c.processes, 1, 256);
  r.read_uint_or_auto("threads", c.threads, 1, 256);
  r.read_uint("coroutines", c.coroutines, 1, 1'000'000);
  r.read_size("stack_size", c.stack_size, 16 << 10, 64 << 20);
  r.read_size("buffer_size", c.buffer_size, 512, 16 << 20);
  r.read_duration("idle_timeout", c.idle_timeout, 0, max_timeout_seconds, true);
  r.read_duration("shutdown_timeout", c.shutdown_timeout, 0, max_timeout_seconds, false);
  r.read_uint("backlog", c.backlog, 1, 65535);
  r.read_bool("tcp_nodelay", c.tcp_nodelay);
  r.read_uint("io_uring_entries", c.io_uring_entries, 8, 32768);
  // io_uring_setup rounds a non-power-of-two up silently; say so instead of surprising anyone.
  if (!is_power_of_two(c.io_uring_entries)) {
    r.fail("io_uring_entries", "must be a power of two, got " + std::to_string(c.io_uring_entries));
  }
  r.read_bool("io_uring_multishot", c.io_uring_multishot);
  r.read_bool("io_uring_recv_bundles", c.io_uring_recv_bundles);
  r.read_uint("io_uring_buffers", c.io_uring_buffers, 1, 32768);
  if (!is_power_of_two(c.io_uring_buffers)) {  // the kernel's buffer ring requires it
    r.fail("io_uring_buffers", "must be a power of two, got " + std::to_string(c.io_uring_buffers));
  }
  r.read_size("io_uring_buffer_size", c.io_uring_buffer_size, 512, 1 << 20);
  read_cpu_affinity(r, c.cpu_affinity, c.cpus);
  r.read_choice("log_level", c.log_level);
  read_http(r, c.http);
  read_overload(r, c.overload);
  read_admin(r, c.listen, c.admin);
  read_pid_file(r, c.pid_file);
  r.read_duration("upgrade_timeout", c.upgrade_timeout, 0, max_timeout_seconds, false);
  r.finish();
  return c;
} catch (const nlohmann::json::exception& e) {
  throw config_error(std::string(source_name), "", std::string("cannot read config: ") + e.what());
}

server_config load_server_config(const std::string& path,
                                 const std::vector<std::string>& overrides) {
  return parse_server_config(read_text_file(path), path, overrides);
}

namespace {

// ordered_json keeps declaration order; plain json would sort the keys.
nlohmann::ordered_json ordered(const server_config& c) {
  nlohmann::ordered_json j;
  j["listen"] = c.listen.size() == 1 ? nlohmann::ordered_json(c.listen.front())
                                     : nlohmann::ordered_json(c.listen);
  j["service"] = name_of(c.service);
  j["backend"] = name_of(c.backend);
  j["processes"] = auto_or_count(c.processes);
  j["threads"] = auto_or_count(c.threads);
  j["coroutines"] = c.coroutines;
  j["stack_size"] = format_size(c.stack_size);
  j["buffer_size"] = format_size(c.buffer_size);
  j["idle_timeout"] = seconds(c.idle_timeout);
  j["shutdown_timeout"] = seconds(c.shutdown_timeout);
  j["backlog"] = c.backlog;
  j["tcp_nodelay"] = c.tcp_nodelay;
  j["io_uring_entries"] = c.io_uring_entries;
  j["io_uring_multishot"] = c.io_uring_multishot;
  j["io_uring_recv_bundles"] = c.io_uring_recv_bundles;
  j["io_uring_buffers"] = c.io_uring_buffers;
  j["io_uring_buffer_size"] = format_size(c.io_uring_buffer_size);
  switch (c.cpu_affinity) {
    case cpu_affinity_mode::none:
      j["cpu_affinity"] = "none";
      break;
    case cpu_affinity_mode::automatic:
      j["cpu_affinity"] = "auto";
      break;
    case cpu_affinity_mode::list:
      j["cpu_affinity"] = c.cpus;
      break;
  }
  j["log_level"] = name_of(c.log_level);
  j["http"]["max_header_bytes"] = format_size(c.http.max_header_bytes);
  j["http"]["max_body_bytes"] = format_size(c.http.max_body_bytes);
  j["http"]["header_timeout"] = seconds(c.http.header_timeout);
  j["http"]["body_timeout"] = seconds(c.http.body_timeout);
  j["http"]["body_min_rate"] = format_size(c.http.body_min_rate);
  j["http"]["keepalive_timeout"] = seconds(c.http.keepalive_timeout);
  j["overload"]["enabled"] = c.overload.enabled;
  j["overload"]["threshold_percent"] = c.overload.threshold_percent;
  j["overload"]["idle_grace"] = seconds(c.overload.idle_grace);
  j["admin"] = c.admin.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.admin);
  j["pid_file"] =
      c.pid_file.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.pid_file);
  j["upgrade_timeout"] = seconds(c.upgrade_timeout);
  return j;
}

}  // namespace

std::string to_json(const server_config& c) {
  return ordered(c).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string to_json_line(const server_config& c) {
  return ordered(c).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

unsigned resolved_processes(const server_config& c) {
  return c.processes != 0 ? c.processes : std::max(1U, std::thread::hardware_concurrency());
}

unsigned resolved_threads(const server_config& c) {
  return c.threads != 0 ? c.threads : std::max(1U, std::thread::hardware_concurrency());
}

}  // namespace echod::config
