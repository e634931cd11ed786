// Live progress on stderr, one line a second: elapsed time, messages verified in that second,
// open connections and errors so far. Lines rather than a redrawn status line, so the output
// reads the same in a terminal, a log file or CI.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "client/driver.hpp"

namespace echod::client {

/// "auto" is on when stderr is a terminal.
bool progress_enabled(const std::string& mode);

class progress_printer {
 public:
  explicit progress_printer(std::FILE* out) : out_(out) {}
  void operator()(const progress_sample& s);

  /// The line for `s`, given the previous sample's time and message count.
  static std::string format(const progress_sample& s, std::chrono::nanoseconds previous_elapsed,
                            std::uint64_t previous_messages);

 private:
  std::FILE* out_;
  std::chrono::nanoseconds last_elapsed_{0};
  std::uint64_t last_messages_ = 0;
};

}  // namespace echod::client
