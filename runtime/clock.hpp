// Time as the runtime sees it: a monotonic clock, and deadlines as absolute points on it.
#pragma once

#include <chrono>

namespace echod::runtime {

using clock = std::chrono::steady_clock;
using deadline = clock::time_point;

/// A deadline that never passes: "wait as long as it takes".
inline constexpr deadline no_deadline = deadline::max();

/// Seconds (a double: a computed allowance such as bytes / rate) as a clock duration.
inline clock::duration from_seconds(double s) {
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

/// The deadline `timeout` from now; a zero or negative timeout means no deadline.
inline deadline deadline_after(clock::duration timeout) {
  return timeout > clock::duration::zero() ? clock::now() + timeout : no_deadline;
}

}  // namespace echod::runtime
