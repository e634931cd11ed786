// One load connection slot: the coroutine body that connects, sends messages, reads the replies
// back, checks them byte for byte and records their latency, and under churn closes and
// reconnects. What it shares: the load_plan (read-only,
// all threads) and its thread's thread_state (only coroutines of that thread write to it; the
// driver takes finished timeline intervals). The driver builds both and spawns the coroutines.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "client/errors.hpp"
#include "client/histogram.hpp"
#include "client/payload.hpp"
#include "client/timeline.hpp"
#include "io/address.hpp"
#include "runtime/clock.hpp"

namespace echod::client {

/// Everything every connection needs to know, fixed before the threads start.
struct load_plan {
  io::address target;
  std::vector<io::address> sources;  ///< bind connection i to sources[i % size]; empty: any
  const payload* data = nullptr;
  std::size_t connections = 1;         ///< connection slots, each one connection at a time
  unsigned pipeline = 1;               ///< messages in flight per connection
  runtime::clock::duration timeout{};  ///< per reply, per write, per connect
  double rate = 0;                     ///< messages/s over all connections; 0 = closed loop
  double connect_rate = 0;             ///< connections/s for the first connects; 0 = all at once
  std::uint64_t messages = 0;          ///< verified messages to stop after, in total; 0 = none
  std::uint64_t messages_per_connection = 0;  ///< then close and reconnect; 0 = never
  interval_clock clock;  ///< t0, the measured window and the timeline's boundaries

  /// The share of `messages` that slot `index` verifies before it stops.
  std::uint64_t quota(std::size_t index) const {
    if (messages == 0) return UINT64_MAX;
    return messages / connections + (index < messages % connections ? 1 : 0);
  }
};

/// A load thread's share of the results; only coroutines of that thread write to it, and the
/// driver reads it after the threads end (the timeline's finished intervals also while they
/// run, under their lock).
struct thread_state {
  thread_state(const interval_clock& clock, bool open_loop) : intervals(clock, open_loop) {}

  interval_recorder intervals;  ///< messages, bytes, errors and latency, second by second
  histogram connect_latency;    ///< ns, connects established within the measured window
  connect_failure_counts connect_errors{};
  std::array<std::string, error_class_count> first_error;  ///< the first message per class
  std::int64_t open = 0;                                   ///< connections open now
  runtime::deadline last_completion{};                     ///< of a reply counted in the window
  std::vector<std::uint64_t> per_connection;               ///< window messages, by local slot index
  bool ports_exhausted = false;                            ///< a connect failed with EADDRNOTAVAIL
  bool out_of_files = false;  ///< a connect failed with EMFILE or ENFILE
  /// Set by the driver when the run's time is up: send nothing more, collect the replies in
  /// flight, then close cleanly (closing with replies unread would reset the connection, and the
  /// server would count an error that is the client's doing).
  std::atomic<bool> winding_down{false};
};

/// The body of connection slot `index` (`local_index` in its thread): connects, and with
/// --messages-per-connection reconnects after each N verified messages, until its quota is
/// verified, an error ends it, or it is cancelled (the end of the run). Errors are counted in
/// `state`, never thrown.
void run_connection(const load_plan& plan, thread_state& state, std::size_t index,
                    std::size_t local_index);

}  // namespace echod::client
