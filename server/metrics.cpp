#include "server/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace echod::server {
namespace {

// A label value in the exposition format: backslash, double quote and newline are escaped.
std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Seconds with millisecond precision, never in exponent form ("1700000000.123").
std::string format_seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(s) ? s : 0.0);
  return buf;
}

class exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_.append(name);
    if (!labels.empty()) out_.append("{").append(labels).append("}");
    out_.append(" ").append(value).append("\n");
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    sample(name, labels, std::to_string(value));
  }
  /// A family with one unlabelled sample.
  void single(std::string_view name, std::string_view type, std::string_view help,
              std::uint64_t value) {
    family(name, type, help);
    sample(name, "", value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string render_prometheus(const master_snapshot& s) {
  const stats::totals& t = s.totals;
  exposition e;
  e.family("echod_info", "gauge", "Version, service and I/O backend of the serving workers.");
  e.sample("echod_info",
           "version=\"" + escape_label(s.version) + "\",service=\"" + escape_label(s.service) +
               "\",backend=\"" + escape_label(s.backend) + "\"",
           std::uint64_t{1});
  e.family("process_start_time_seconds", "gauge",
           "Start time of the master process since the Unix epoch in seconds.");
  e.sample("process_start_time_seconds", "", format_seconds(s.start_time));
  e.single("echod_up", "gauge",
           "1 when every worker of the serving generation is ready and echod is not stopping.",
           s.unhealthy.empty() ? 1 : 0);
  e.single("echod_connections_accepted_total", "counter", "Connections accepted by the workers.",
           t.accepted);
  e.single("echod_connections_closed_total", "counter", "Connections closed by the workers.",
           t.closed);
  e.single("echod_connections_active", "gauge", "Connections open now.", t.active);
  e.single("echod_received_bytes_total", "counter", "Bytes read from clients.", t.bytes_in);
  e.single("echod_sent_bytes_total", "counter", "Bytes written to clients.", t.bytes_out);
  e.family("echod_connection_errors_total", "counter",
           "Connections that ended in an error, by kind: reset (ECONNRESET or EPIPE from the "
           "peer), idle_timeout, header_timeout and body_timeout (HTTP), other.");
  e.sample("echod_connection_errors_total", "kind=\"reset\"", t.resets);
  e.sample("echod_connection_errors_total", "kind=\"idle_timeout\"", t.timeouts);
  e.sample("echod_connection_errors_total", "kind=\"header_timeout\"", t.header_timeouts);
  e.sample("echod_connection_errors_total", "kind=\"body_timeout\"", t.body_timeouts);
  e.sample("echod_connection_errors_total", "kind=\"other\"", t.other_errors);
  e.family("echod_connections_shed_total", "counter",
           "Connections the server closed by policy, not for an error, by kind: "
           "keepalive_timeout (HTTP, between requests), overload (idle while the thread's "
           "slots were nearly all taken).");
  e.sample("echod_connections_shed_total", "kind=\"keepalive_timeout\"", t.keepalive_timeouts);
  e.sample("echod_connections_shed_total", "kind=\"overload\"", t.overload_closes);
  e.family("echod_io_events_total", "counter",
           "Reactor events, summed over threads, by kind: multishot_rearm (an io_uring multishot "
           "recv or accept armed again after it ended), buffer_ring_empty (a recv ended by "
           "ENOBUFS: every "
           "ring buffer queued or being sent; it resumes once one is back), cq_overflow "
           "(completions the kernel held back: the completion queue was full), sq_full_wait "
           "(submissions flushed early: the submission queue was full), short_send (a send "
           "that took less than it was offered).");
  e.sample("echod_io_events_total", "kind=\"multishot_rearm\"", t.multishot_rearms);
  e.sample("echod_io_events_total", "kind=\"buffer_ring_empty\"", t.buffer_ring_empty);
  e.sample("echod_io_events_total", "kind=\"cq_overflow\"", t.cq_overflows);
  e.sample("echod_io_events_total", "kind=\"sq_full_wait\"", t.sq_full_waits);
  e.sample("echod_io_events_total", "kind=\"short_send\"", t.short_sends);
  e.single("echod_recv_completions_total", "counter",
           "Receive completions that brought bytes (with the next: the mean bytes per receive).",
           t.recv_completions);
  e.single("echod_recv_completion_bytes_total", "counter",
           "Bytes those receive completions brought.", t.recv_bytes);
  e.single("echod_workers_running", "gauge",
           "Worker processes alive, including those of a retiring generation.", s.workers_running);
  e.single("echod_workers_ready", "gauge",
           "Workers of the serving generation that are running and ready.", s.workers_ready);
  e.single("echod_workers_configured", "gauge", "Workers the serving generation should have.",
           s.workers_wanted);
  e.single("echod_worker_restarts_total", "counter",
           "Workers respawned after exiting unexpectedly (a crash or a kill).", s.worker_restarts);
  e.single("echod_generation", "gauge", "Number of the serving generation (1, then +1 per reload).",
           s.generation);
  e.single("echod_reloads_total", "counter", "Reloads (SIGHUP) that completed.", s.reloads);
  e.single("echod_reload_failures_total", "counter",
           "Reloads (SIGHUP) that failed and kept the current config.", s.reloads_failed);
  return e.take();
}

std::string render_json(const master_snapshot& s) {
  const stats::totals& t = s.totals;
  nlohmann::ordered_json j;
  j["version"] = s.version;
  j["service"] = s.service;
  j["backend"] = s.backend;
  j["healthy"] = s.unhealthy.empty();
  j["health"] = s.unhealthy.empty() ? "ok" : s.unhealthy;
  j["start_time_seconds"] = std::round(s.start_time * 1000) / 1000;
  j["uptime_seconds"] = std::round(s.uptime * 1000) / 1000;
  j["generation"] = s.generation;
  j["connections"] = {{"accepted", t.accepted}, {"active", t.active}, {"closed", t.closed}};
  j["bytes"] = {{"received", t.bytes_in}, {"sent", t.bytes_out}};
  j["errors"] = {{"reset", t.resets},
                 {"idle_timeout", t.timeouts},
                 {"header_timeout", t.header_timeouts},
                 {"body_timeout", t.body_timeouts},
                 {"other", t.other_errors}};
  j["shed"] = {{"keepalive_timeout", t.keepalive_timeouts}, {"overload", t.overload_closes}};
  j["io"] = {{"multishot_rearm", t.multishot_rearms},
             {"buffer_ring_empty", t.buffer_ring_empty},
             {"cq_overflow", t.cq_overflows},
             {"sq_full_wait", t.sq_full_waits},
             {"short_send", t.short_sends},
             {"recv_completions", t.recv_completions},
             {"recv_bytes", t.recv_bytes}};
  j["workers"] = {{"configured", s.workers_wanted},
                  {"ready", s.workers_ready},
                  {"running", s.workers_running},
                  {"restarts", s.worker_restarts}};
  j["reloads"] = {{"completed", s.reloads}, {"failed", s.reloads_failed}};
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string render_health(const master_snapshot& s) {
  return s.unhealthy.empty() ? "ok\n" : "unavailable: " + s.unhealthy + "\n";
}

}  // namespace echod::server
