// Runs a load test: checks the limits, builds the payload and the plan, starts one scheduler
// thread per --threads (each over its own reactor) with its share of the connections, reports
// progress about once a second from the calling thread, stops the connections at the end of
// the measured window (or when every connection is done, or on request), and merges the
// threads' histograms and counters into a run_result. Prints nothing itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>

#include "client/options.hpp"
#include "client/result.hpp"

namespace echod::client {

/// A problem that stops a run before it starts, or its threads from starting: io_uring demanded
/// and missing, an unreadable payload file, too low an open-file limit. what() is the message.
class setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What the progress reporter sees once a second: totals since the start, warm-up included.
struct progress_sample {
  std::chrono::nanoseconds elapsed{};
  std::uint64_t messages = 0;  ///< replies verified so far
  std::int64_t open = 0;       ///< connections open now
  std::uint64_t errors = 0;
  bool warming_up = false;
};

struct run_hooks {
  /// When set and it becomes true (e.g. on SIGINT), the run ends early and reports what it has.
  const std::atomic<bool>* interrupted = nullptr;
  /// Called on the calling thread about once a second while the run goes on.
  std::function<void(const progress_sample&)> on_progress;
};

/// Runs the test `o` describes. Throws config::config_error for inconsistent options and
/// setup_error when the run cannot start; everything that goes wrong on a connection is counted
/// in the result instead.
run_result run_load(const options& o, const run_hooks& hooks = {});

}  // namespace echod::client
