// What the reactor counts about its own work, for /metrics: one set per scheduler thread, written
// by that thread only (a plain load and store, as server/stats.hpp does), read by anyone. The
// server places it in its shared per-thread slot; a reactor given none counts into its own.
#pragma once

#include <atomic>
#include <cstdint>

namespace echod::io {

struct io_counters {
  std::atomic<std::uint64_t> multishot_rearms{
      0};  ///< multishot recvs/accepts armed again after ending
  std::atomic<std::uint64_t> buffer_ring_empty{0};  ///< recvs ended by ENOBUFS (no buffer free)
  std::atomic<std::uint64_t> cq_overflows{0};       ///< completions the kernel had to hold back
  std::atomic<std::uint64_t> sq_full_waits{0};      ///< submissions flushed early: the SQ was full
  std::atomic<std::uint64_t> short_sends{0};        ///< sends that took less than was offered
  std::atomic<std::uint64_t> recv_completions{0};   ///< receives that brought bytes
  std::atomic<std::uint64_t> recv_bytes{0};         ///< the bytes they brought

  /// For the single writer: no locked instruction on the data path.
  static void add(std::atomic<std::uint64_t>& c, std::uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

}  // namespace echod::io
