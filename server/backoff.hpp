// How long the master waits before respawning a worker that died: 100 ms, doubling up to 5 s, so
// a worker that crashes at once does not fork in a tight loop; a worker that had been up 10 s or
// more counts as a fresh failure and starts again from 100 ms.
#pragma once

#include <algorithm>
#include <chrono>

namespace echod::server {

class respawn_backoff {
 public:
  static constexpr std::chrono::milliseconds first{100};
  static constexpr std::chrono::milliseconds limit{5000};
  static constexpr std::chrono::seconds stable_after{10};

  /// The delay before respawning a worker that died after running for `uptime`.
  std::chrono::milliseconds next(std::chrono::steady_clock::duration uptime) {
    if (uptime >= stable_after) delay_ = first;
    const auto d = delay_;
    delay_ = std::min(delay_ * 2, limit);
    return d;
  }

 private:
  std::chrono::milliseconds delay_ = first;
};

}  // namespace echod::server
