// One load connection: the coroutine body that connects, sends messages, reads the replies back,
// checks them byte for byte and records their latency. What it shares: the load_plan (read-only,
// all threads) and its thread's thread_state (only coroutines of that thread write to it; the
// progress reporter reads the `live` atomics). The driver builds both and spawns the coroutines.
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
#include "io/address.hpp"
#include "runtime/clock.hpp"

namespace echod::client {

/// Everything every connection needs to know, fixed before the threads start.
struct load_plan {
  io::address target;
  std::vector<io::address> sources;  ///< bind connection i to sources[i % size]; empty: any
  const payload* data = nullptr;
  std::size_t connections = 1;
  unsigned pipeline = 1;               ///< messages in flight per connection
  runtime::clock::duration timeout{};  ///< per reply, per write, per connect
  double rate = 0;                     ///< messages/s over all connections; 0 = closed loop
  double connect_rate = 0;             ///< connections/s; 0 = all at once
  std::uint64_t messages = 0;          ///< verified messages to stop after, in total; 0 = none
  runtime::deadline start;             ///< t0: ramp-up and open-loop schedules count from here
  runtime::deadline measure_start;     ///< start + warm-up
  runtime::deadline measure_end;       ///< measure_start + duration, or no_deadline

  /// The share of `messages` that connection `index` verifies before it stops.
  std::uint64_t quota(std::size_t index) const {
    if (messages == 0) return UINT64_MAX;
    return messages / connections + (index < messages % connections ? 1 : 0);
  }
  bool in_window(runtime::deadline t) const { return t >= measure_start && t < measure_end; }
};

/// Counters the progress reporter reads while the run goes on, on their own cache line. Each is
/// written by one thread only, so a relaxed load and store (no locked read-modify-write) is an
/// exact increment; the reader sees a recent value.
struct alignas(64) live_counters {
  std::atomic<std::uint64_t> messages{0};  ///< replies verified, warm-up included
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::int64_t> open{0};  ///< connections currently open
};

/// A load thread's share of the results; merged by the driver after the threads end.
struct thread_state {
  live_counters live;
  histogram latency;
  error_counts errors;
  std::array<std::string, error_class_count> first_error;  ///< the first message per class
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t opened = 0;
  runtime::deadline last_completion{};        ///< of a reply counted in the window
  std::vector<std::uint64_t> per_connection;  ///< window messages, by local connection index
  bool ports_exhausted = false;               ///< a connect failed with EADDRNOTAVAIL
  bool out_of_files = false;                  ///< a connect failed with EMFILE or ENFILE
  /// Set by the driver when the run's time is up: send nothing more, collect the replies in
  /// flight, then close cleanly (closing with replies unread would reset the connection, and the
  /// server would count an error that is the client's doing).
  std::atomic<bool> winding_down{false};
};

/// The body of connection `index` (its slot in its thread is `local_index`): runs until its
/// quota is verified, an error ends it, or it is cancelled (the end of the run). Errors are
/// counted in `state`, never thrown.
void run_connection(const load_plan& plan, thread_state& state, std::size_t index,
                    std::size_t local_index);

}  // namespace echod::client
