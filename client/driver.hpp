// Runs a load test: checks the limits, builds the payload and the plan, starts one scheduler
// thread per --threads (each over its own reactor) with its share of the connection slots and a
// ticker that cuts the timeline's intervals, reports each interval as progress from the calling
// thread, stops the connections at the end of
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
#include "client/timeline.hpp"

namespace echod::client {

/// A problem that stops a run before it starts, or its threads from starting: io_uring demanded
/// and missing, an unreadable payload file, too low an open-file limit. what() is the message.
class setup_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct run_hooks {
  /// When set and it becomes true (e.g. on SIGINT), the run ends early and reports what it has.
  const std::atomic<bool>* interrupted = nullptr;
  /// Called on the calling thread with each timeline interval (all threads merged) soon after
  /// it ends, while the run goes on: the same entries the report's timeline holds.
  std::function<void(const interval&)> on_progress;
};

/// Runs the test `o` describes. Throws config::config_error for inconsistent options and
/// setup_error when the run cannot start; everything that goes wrong on a connection is counted
/// in the result instead.
run_result run_load(const options& o, const run_hooks& hooks = {});

}  // namespace echod::client
