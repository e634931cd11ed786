// Derived figures of a run_result (see result.hpp).
#include "client/result.hpp"

#include <algorithm>

namespace echod::client {

void add_timeline_totals(run_result& r) {
  for (const interval& i : r.timeline) {
    r.errors += i.errors;
    r.connections_opened += i.connects;
    if (i.when != phase::measured) continue;
    r.messages += i.messages;
    r.bytes_sent += i.bytes_sent;
    r.bytes_received += i.bytes_received;
    r.connects += i.connects;
    r.latency.merge(i.latency);
    r.service.merge(i.service);
  }
}

void set_rates(run_result& r) {
  if (r.duration_s <= 0) return;
  r.msgs_per_sec = static_cast<double>(r.messages) / r.duration_s;
  r.mb_per_sec = static_cast<double>(r.bytes_sent) / r.duration_s / 1e6;
  r.connects_per_sec = static_cast<double>(r.connects) / r.duration_s;
}

fairness_stats fairness_of(const std::vector<std::uint64_t>& per_connection) {
  if (per_connection.empty()) return {};
  std::vector<std::uint64_t> sorted = per_connection;
  const auto mid = sorted.begin() + static_cast<std::ptrdiff_t>((sorted.size() - 1) / 2);
  std::nth_element(sorted.begin(), mid, sorted.end());
  const auto [lo, hi] = std::minmax_element(per_connection.begin(), per_connection.end());
  return {*lo, *mid, *hi};
}

}  // namespace echod::client
