// Signals as events: the signals a process handles are blocked and read from a signalfd in its
// event loop, so no handler runs at an arbitrary point (nothing to make async-signal-safe).
// The master and every worker use one each; forked children inherit the blocked mask, so a signal
// sent to a worker before it set up its own signalfd stays pending instead of killing it.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>

namespace echod::server {

class signal_reader {
 public:
  /// Blocks `signals` in the calling thread (threads it creates later inherit the mask) and opens
  /// a non-blocking signalfd for them. Throws std::system_error.
  explicit signal_reader(std::initializer_list<int> signals);
  ~signal_reader();
  signal_reader(const signal_reader&) = delete;
  signal_reader& operator=(const signal_reader&) = delete;

  int fd() const { return fd_; }
  /// The next pending signal, or nullopt when none is pending.
  std::optional<int> next();

 private:
  int fd_ = -1;
};

/// Blocks `signals` in the calling thread, so that one sent before its signal_reader exists stays
/// pending instead of taking its default action (for most, ending the process).
void block_signals(std::initializer_list<int> signals);
/// Sets `signals` to SIG_IGN (pending ones are discarded) and unblocks them.
void ignore_signals(std::initializer_list<int> signals);
/// Restores the default action of `signals` and unblocks them.
void default_signals(std::initializer_list<int> signals);

}  // namespace echod::server
