// What the admin endpoint reports, rendered three ways: Prometheus text exposition format 0.0.4
// (/metrics), a one-line health verdict (/health) and JSON (/stats). The master fills a snapshot
// when a request arrives; nothing here reads counters or touches sockets, so rendering is a pure
// function of the snapshot.
#pragma once

#include <cstdint>
#include <string>

#include "server/stats.hpp"

namespace echod::server {

/// The master's view at one moment.
struct master_snapshot {
  stats::totals totals;  ///< stats::region::sum(): live workers plus every retired one
  std::string version;
  std::string service;                ///< of the serving generation
  std::string backend;                ///< "io_uring" or "epoll", resolved
  double start_time = 0;              ///< the master's start, seconds since the Unix epoch
  double uptime = 0;                  ///< seconds
  unsigned generation = 0;            ///< the serving generation's id
  unsigned workers_wanted = 0;        ///< `processes` of the serving generation
  unsigned workers_ready = 0;         ///< of those, running and ready to serve
  unsigned workers_running = 0;       ///< every live worker process, retiring ones included
  std::uint64_t worker_restarts = 0;  ///< unexpected worker exits followed by a respawn
  std::uint64_t reloads = 0;          ///< completed reloads
  std::uint64_t reloads_failed = 0;   ///< reloads that kept the old config
  std::string unhealthy;  ///< empty when serving; else why not ("stopping", "worker 2 ...")
};

/// Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE` and samples for every family.
std::string render_prometheus(const master_snapshot& s);
/// The same numbers as one JSON object (pretty-printed, ends in a newline).
std::string render_json(const master_snapshot& s);
/// `ok` when healthy, else `unavailable: REASON`; with a trailing newline.
std::string render_health(const master_snapshot& s);

/// The Content-Type of render_prometheus()'s output.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace echod::server
