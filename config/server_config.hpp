// echod's configuration: the typed struct the master and workers use, and its JSON form
// (load, validate, apply "--set key=value" overrides, print back). Validation is syntactic and
// machine-independent, so `--check-config` gives the same answer on any host: it does not open
// sockets, probe io_uring or check that listed CPUs exist; the server does that at start.
// Deliberately free of nlohmann/json: parsing lives in server_config.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/choices.hpp"
#include "config/config_error.hpp"

namespace echod::config {

enum class cpu_affinity_mode { none, automatic, list };

/// Timeouts: nanoseconds, the runtime clock's own unit. The file gives seconds or "500ms".
using duration = std::chrono::nanoseconds;

struct http_limits {
  std::uint64_t max_header_bytes = 8192;   // request line + headers; 256B..1MiB
  std::uint64_t max_body_bytes = 1 << 20;  // Content-Length limit; 0..1GiB

  // Deadlines a slow client cannot stretch (0 = none, except keepalive_timeout > 0).
  duration header_timeout =
      std::chrono::seconds(30);  // request line + headers, from the request's first byte
  duration body_timeout = std::chrono::seconds(30);  // the body, from the end of the head ...
  std::uint64_t body_min_rate = 1024;  // ... plus 1 s per this many body bytes received
  duration keepalive_timeout = std::chrono::seconds(75);  // between requests (after a response)

  bool operator==(const http_limits&) const = default;
};

/// Overload protection: when a thread's slots are nearly all taken, connections idle longer than
/// idle_grace are closed, oldest first, so that a new client always gets a slot.
struct overload_policy {
  bool enabled = true;
  unsigned threshold_percent = 90;                // of `coroutines`; 1..100
  duration idle_grace = std::chrono::seconds(1);  // without input; 0..1 year

  bool operator==(const overload_policy&) const = default;
};

/// Defaults are the documented defaults: parse_server_config("{}", ...) == server_config{}.
/// See config/FIELDS.md for every field's JSON type and range.
struct server_config {
  std::vector<std::string> listen{"0.0.0.0:7007"};  // "host:port" each; non-empty, no duplicates
  service_kind service = service_kind::upper;
  backend_kind backend = backend_kind::automatic;
  unsigned processes = 0;      // 1..256; 0 = "auto": one per online CPU
  unsigned threads = 1;        // per process; 1..256; 0 = "auto"
  unsigned coroutines = 4096;  // per thread: bound on connections one scheduler serves; 1..1e6
  std::uint64_t stack_size = 64 * 1024;   // per coroutine; 16KiB..64MiB
  std::uint64_t buffer_size = 64 * 1024;  // pooled receive buffer, lent per read; 512B..16MiB
  duration idle_timeout = std::chrono::seconds(300);     // >= 0; 0 = never close idle connections
  duration shutdown_timeout = std::chrono::seconds(10);  // > 0; graceful stop / reload drain limit
  unsigned backlog = 4096;                               // listen(2) backlog; 1..65535
  bool tcp_nodelay = true;
  unsigned io_uring_entries = 1024;  // submission queue size; power of two, 8..32768
  // io_uring receives: multishot recv into a per-thread ring of io_uring_buffers buffers (a power
  // of two, 1..32768) of io_uring_buffer_size bytes (512B..1MiB); false: one recv per read.
  bool io_uring_multishot = true;
  bool io_uring_recv_bundles = true;  // one completion may fill several buffers (kernel 6.10+)
  unsigned io_uring_buffers = 512;
  std::uint64_t io_uring_buffer_size = 16 * 1024;
  cpu_affinity_mode cpu_affinity = cpu_affinity_mode::none;
  std::vector<int> cpus;  // the CPU ids when cpu_affinity == list (non-empty, distinct, 0..1023)
  config::log_level log_level = config::log_level::info;
  http_limits http;
  overload_policy overload;
  std::string admin;     // the master's metrics/health endpoint, "host:port"; "" = disabled
  std::string pid_file;  // the master writes its PID here (atomically) and removes it; "" = none
  // SIGUSR2 (binary upgrade): how long the new master may take to be ready; > 0
  duration upgrade_timeout = std::chrono::seconds(30);

  bool operator==(const server_config&) const = default;
};

/// Parses and validates `json_text`, applying `overrides` ("key=value", see
/// json_reader.hpp: apply_overrides) before validation. `source_name` (a file name, "<string>")
/// starts every error message. Throws config_error.
server_config parse_server_config(std::string_view json_text, std::string_view source_name,
                                  const std::vector<std::string>& overrides = {});

/// Reads the file at `path` and parses it with `path` as the source name. Throws config_error,
/// e.g. "PATH: cannot read: No such file or directory".
server_config load_server_config(const std::string& path,
                                 const std::vector<std::string>& overrides = {});

/// Every field, pretty-printed with 2-space indents, in declaration order (what --print-config
/// shows). Sizes print as "64KiB", timeouts as seconds. Parses back to an equal config.
std::string to_json(const server_config& config);
/// The same on one line, for the log.
std::string to_json_line(const server_config& config);

/// A duration as (fractional) seconds, the unit the config file and the log use.
inline double to_seconds(duration d) { return std::chrono::duration<double>(d).count(); }

/// `processes` / `threads` with "auto" (0) replaced by std::thread::hardware_concurrency(),
/// at least 1.
unsigned resolved_processes(const server_config& config);
unsigned resolved_threads(const server_config& config);

}  // namespace echod::config
