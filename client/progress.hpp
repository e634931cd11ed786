// Live progress on stderr, one line per timeline interval (about a second): elapsed time, the
// interval's messages/s, p50/p99/max latency, connections open and opened per second, and its
// errors. The numbers are the report's timeline entries, printed as soon as every load thread has
// finished the interval. Lines rather than a redrawn status line, so the output reads the same in
// a terminal, a log file or CI.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "client/timeline.hpp"

namespace echod::client {

/// "auto" is on when stderr is a terminal.
bool progress_enabled(const std::string& mode);

class progress_printer {
 public:
  explicit progress_printer(std::FILE* out) : out_(out) {}
  void operator()(const interval& i);

  /// The line for `i`; `run_start_s` is the first interval's start as Unix seconds.
  static std::string format(const interval& i, double run_start_s);

 private:
  std::FILE* out_;
  double run_start_s_ = -1;
};

}  // namespace echod::client
