// The text report (see report_text.hpp). Reads the run's shape (duration, rate, message size)
// back from its "config" object, so a merged result prints the same way as a single run.
#include "client/report_text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace echod::client {
namespace {

using json = nlohmann::json;

std::string config_string(const json& c, const char* key, const std::string& fallback) {
  const auto it = c.find(key);
  if (it == c.end()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

double config_number(const json& c, const char* key) {
  const auto it = c.find(key);
  return it != c.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string header(const run_result& r, const json& c) {
  std::string out;
  const std::string messages = config_string(c, "messages", "0");
  if (r.runs.size() > 1) {
    out += fmt::format("Merged {} runs @ {}\n", r.runs.size(), r.target);
  } else if (c.contains("duration")) {
    out += fmt::format("Running {} test @ {}\n", config_string(c, "duration", "?"), r.target);
  } else {
    out += fmt::format("Running {}-message test @ {}\n", messages, r.target);
  }
  out += fmt::format("  {} threads and {} connections, backend {}\n", r.threads, r.connections,
                     r.backend.empty() ? "?" : r.backend);
  const double rate = config_number(c, "rate");
  std::string mode = rate > 0 ? fmt::format("open loop at {:g} msgs/s", rate) : "closed loop";
  mode += ", pipeline " + config_string(c, "pipeline", "1");
  const std::string churn = config_string(c, "messages-per-connection", "0");
  if (churn != "0") mode += ", a new connection every " + churn + " messages";
  std::string shape =
      fmt::format("{}-byte {} messages, expect {}", config_string(c, "size", "?"),
                  config_string(c, "payload", "?"), config_string(c, "expect", "?"));
  const std::string warmup = config_string(c, "warmup", "0s");
  if (warmup != "0s") shape += ", " + warmup + " warm-up excluded";
  if (c.contains("duration") && messages != "0") shape += ", at most " + messages + " messages";
  out += "  " + mode + "; " + shape + "\n";
  return out;
}

std::string distribution(const char* title, const histogram& h) {
  std::string out = fmt::format("  {}\n", title);
  const std::pair<const char*, double> rows[] = {
      {"50%", 50}, {"90%", 90}, {"99%", 99}, {"99.9%", 99.9}, {"99.99%", 99.99}};
  for (const auto& [label, p] : rows) {
    out += fmt::format("  {:>7} {:>10}\n", label,
                       format_latency_ns(static_cast<double>(h.percentile(p))));
  }
  out += fmt::format("  {:>7} {:>10}\n", "max", format_latency_ns(static_cast<double>(h.max())));
  out += fmt::format("  {:>7} {:>10}\n", "mean", format_latency_ns(h.mean()));
  return out;
}

}  // namespace

std::string format_latency_ns(double ns) {
  if (ns < 1e6) return fmt::format("{:.2f}us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f}ms", ns / 1e6);
  return fmt::format("{:.2f}s", ns / 1e9);
}

std::string format_bytes(double bytes) {
  if (bytes < 1e3) return fmt::format("{:.0f}B", bytes);
  if (bytes < 1e6) return fmt::format("{:.2f}KB", bytes / 1e3);
  if (bytes < 1e9) return fmt::format("{:.2f}MB", bytes / 1e6);
  return fmt::format("{:.2f}GB", bytes / 1e9);
}

std::string verdict_line(const run_result& r) {
  if (r.ok()) return fmt::format("OK: every reply verified ({} messages)", r.messages);
  const std::uint64_t total = r.errors.total();
  if (total == 0) return "FAILED: no reply was verified within the measured time";
  std::string classes;
  for (std::size_t c = 0; c < error_class_count; ++c) {
    if (r.errors.by_class[c] == 0) continue;
    classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ",
                           error_key(static_cast<error_class>(c)), r.errors.by_class[c]);
  }
  return fmt::format("FAILED: {} error{} ({}); {} replies verified", total, total == 1 ? "" : "s",
                     classes, r.messages);
}

std::string format_text_report(const run_result& r) {
  json config = json::parse(r.config_json, nullptr, false);
  if (!config.is_object()) config = json::object();
  std::string out = header(r, config);

  if (r.open_loop) {
    out +=
        distribution("Latency Distribution (corrected: from each message's due time)", r.latency);
    out += distribution("Service Time (uncorrected: from the actual send)", r.service);
  } else {
    out += distribution("Latency Distribution", r.latency);
  }
  const histogram& c = r.connect_latency;
  if (r.connects == 0) {
    out += fmt::format("  Connections: {} opened, none in the measured window\n",
                       r.connections_opened);
  } else {
    out += fmt::format(
        "  Connections: {} opened, {} in the window ({:.2f}/s); connect p50 {}, p99 {}, p99.99 {}, "
        "max {}\n",
        r.connections_opened, r.connects, r.connects_per_sec,
        format_latency_ns(static_cast<double>(c.percentile(50))),
        format_latency_ns(static_cast<double>(c.percentile(99))),
        format_latency_ns(static_cast<double>(c.percentile(99.99))),
        format_latency_ns(static_cast<double>(c.max())));
  }

  const fairness_stats f = fairness_of(r.per_connection);
  out +=
      fmt::format("  Messages per connection: min {}, median {}, max {}\n", f.min, f.median, f.max);
  out += fmt::format("  {} messages in {:.2f}s, {} sent, {} received\n", r.messages, r.duration_s,
                     format_bytes(static_cast<double>(r.bytes_sent)),
                     format_bytes(static_cast<double>(r.bytes_received)));
  out += fmt::format("Requests/sec: {:>10.2f}\n", r.msgs_per_sec);
  out += fmt::format("Transfer/sec: {:>10}\n", format_bytes(r.mb_per_sec * 1e6));

  std::string errors;
  for (std::size_t c = 0; c < error_class_count; ++c) {
    errors += fmt::format("{}{} {}", c == 0 ? "" : ", ", error_key(static_cast<error_class>(c)),
                          r.errors.by_class[c]);
  }
  out += "Errors: " + errors + "\n";
  if (r.errors[error_class::connect] > 0) {
    std::string causes;
    for (std::size_t k = 0; k < connect_failure_count; ++k) {
      causes +=
          fmt::format("{}{} {}", k == 0 ? "" : ", ",
                      connect_failure_key(static_cast<connect_failure>(k)), r.connect_errors[k]);
    }
    out += "  connect errors by cause: " + causes + "\n";
  }
  for (std::size_t c = 0; c < error_class_count; ++c) {
    if (r.errors.by_class[c] == 0 || r.error_examples[c].empty()) continue;
    out += fmt::format("  first {}: {}\n", error_key(static_cast<error_class>(c)),
                       r.error_examples[c]);
  }
  for (const std::string& note : r.notes) out += "Note: " + note + "\n";
  out += verdict_line(r) + "\n";
  return out;
}

}  // namespace echod::client
