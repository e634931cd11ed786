// Connection counters shared between processes: one cache-line slot per scheduler thread in a
// shared anonymous mapping the master creates before it forks, so each worker thread writes its
// own slot without locks or false sharing and the master sums them when asked (SIGUSR1, stop).
// Each slot has exactly one writer; the master only reads. No history, rates or histograms.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/io_counters.hpp"

namespace echod::server::stats {

/// One scheduler thread's counters. Written by that thread only (see add()).
struct alignas(64) thread_counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> active{0};  ///< open now (a gauge, not a count)
  std::atomic<std::uint64_t> closed{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> resets{0};    ///< ECONNRESET / EPIPE from a peer
  std::atomic<std::uint64_t> timeouts{0};  ///< idle timeouts
  std::atomic<std::uint64_t> other_errors{0};
  // HTTP deadlines (http.header_timeout, body_timeout) that passed: errors of the client.
  std::atomic<std::uint64_t> header_timeouts{0};
  std::atomic<std::uint64_t> body_timeouts{0};
  // Ends by policy, not errors: an HTTP keep-alive wait that passed, an idle connection closed
  // to make room (overload).
  std::atomic<std::uint64_t> keepalive_timeouts{0};
  std::atomic<std::uint64_t> overload_closes{0};
  io::io_counters io;  ///< the thread's reactor counts here (multishot re-arms, ENOBUFS, ...)
};
static_assert(sizeof(thread_counters) == 192, "three cache lines per thread");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "slots live in shared memory");

/// Adds for the single writer: a plain load and store, no locked instruction on the data path.
inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void sub(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}

/// A snapshot, summed over any number of slots.
struct totals {
  std::uint64_t accepted = 0, active = 0, closed = 0, bytes_in = 0, bytes_out = 0;
  std::uint64_t resets = 0, timeouts = 0, other_errors = 0;
  std::uint64_t header_timeouts = 0, body_timeouts = 0, keepalive_timeouts = 0;
  std::uint64_t overload_closes = 0;
  // The reactors' (io::io_counters).
  std::uint64_t multishot_rearms = 0, buffer_ring_empty = 0, cq_overflows = 0, sq_full_waits = 0;
  std::uint64_t short_sends = 0, recv_completions = 0, recv_bytes = 0;

  void add(const thread_counters& c);
  totals& operator+=(const totals& o);
  /// "connections: accepted 12, active 2, closed 10; bytes: in 4096, out 4096; errors: reset 0,
  /// idle timeout 1, header timeout 0, body timeout 0, other 0; closed: keep-alive timeout 0,
  /// overload 0"
  std::string to_string() const;
};

/// The master's shared mapping: fixed capacity, slots handed out in contiguous runs (one run per
/// worker, one slot per thread) and taken back when the worker has exited. Master-only state
/// (which slots are used) lives in ordinary memory; only the slots are shared.
class region {
 public:
  /// Maps `capacity` slots (MAP_NORESERVE: untouched slots cost nothing). Throws std::bad_alloc.
  explicit region(std::size_t capacity);
  ~region();
  region(const region&) = delete;
  region& operator=(const region&) = delete;

  /// `n` zeroed contiguous slots, or nullptr when no run that long is free.
  thread_counters* allocate(std::size_t n);
  /// Returns a worker's slots; their counts (with `active` zeroed: the worker is gone) stay in
  /// sum(), kept apart from the live slots.
  void release(thread_counters* first, std::size_t n);

  /// Everything counted so far: live slots plus the slots of workers that have exited.
  totals sum() const;

 private:
  thread_counters* slots_ = nullptr;
  std::size_t capacity_ = 0;
  std::vector<bool> used_;
  totals retired_;
};

}  // namespace echod::server::stats
