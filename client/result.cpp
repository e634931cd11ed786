// Derived figures of a run_result (see result.hpp).
#include "client/result.hpp"

#include <algorithm>

namespace echod::client {

fairness_stats fairness_of(const std::vector<std::uint64_t>& per_connection) {
  if (per_connection.empty()) return {};
  std::vector<std::uint64_t> sorted = per_connection;
  const auto mid = sorted.begin() + static_cast<std::ptrdiff_t>((sorted.size() - 1) / 2);
  std::nth_element(sorted.begin(), mid, sorted.end());
  const auto [lo, hi] = std::minmax_element(per_connection.begin(), per_connection.end());
  return {*lo, *mid, *hi};
}

}  // namespace echod::client
