// The one thing the scheduler needs from the I/O layer: "wait until something completes or the
// timeout passes, and wake the coroutines it belongs to". io/ implements it per backend; the
// runtime never knows which backend it runs on.
#pragma once

#include <chrono>

namespace echod::runtime {

class poller {
 public:
  virtual ~poller() = default;

  /// Waits for I/O for at most `timeout` (zero: do not block; negative: no limit), waking the
  /// coroutines whose operations completed. Also submits I/O queued since the last call.
  virtual void poll(std::chrono::nanoseconds timeout) = 0;

  /// Makes a concurrent or future poll() return soon. The only member safe from other threads.
  virtual void interrupt() = 0;
};

}  // namespace echod::runtime
