// The run over time: one interval per wall-clock second and phase (warm-up, measured, wind-down),
// each with its own counters and latency histograms. A load thread records into its current
// interval and rolls it over when an event (or its ticker) passes the interval's end; rolling is
// the only costly step (a histogram snapshot and reset) and happens once a second, so a message
// costs one compare more than before. The driver merges the threads' intervals by (second,
// phase): that merge, and `echoload merge`'s of several runs, add histograms bucket by bucket,
// so they are exact. Intervals are cut at whole wall-clock (UTC) seconds so that runs on
// different machines line up; that assumes their clocks agree (NTP keeps them within a few ms,
// which moves that much of a second's messages into the neighbouring second, never loses any).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "client/errors.hpp"
#include "client/histogram.hpp"
#include "runtime/clock.hpp"

namespace echod::client {

enum class phase : std::uint8_t { warmup, measured, wind_down };

/// "warmup", "measured", "wind-down" (the report's `phase`).
const char* phase_key(phase p);

/// One timeline entry: the part of one wall-clock second that lies in one phase.
struct interval {
  std::int64_t second = 0;  ///< Unix time of the second, whole seconds
  double offset_s = 0;      ///< where the interval starts within its second, 0 <= offset < 1
  double length_s = 0;
  phase when = phase::measured;
  std::uint64_t messages = 0;  ///< replies verified
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t connects = 0;  ///< connections established
  std::int64_t open = 0;       ///< connections open at the interval's end
  error_counts errors;
  histogram_snapshot latency;  ///< ns; open loop: from the due time (corrected)
  histogram_snapshot service;  ///< ns; open loop only: from the actual send (uncorrected)

  bool same_slot(const interval& o) const { return second == o.second && when == o.when; }
};

/// Adds `in` to `into` (same slot): counts summed, histograms merged, the span widened to cover
/// both.
void merge_interval(interval& into, const interval& in);

/// Merges timelines (each in time order) slot by slot, into time order.
std::vector<interval> merge_timelines(const std::vector<std::vector<interval>>& timelines);

/// Where the interval boundaries fall: whole wall-clock seconds, the end of the warm-up and the
/// end of the measured window. Fixed before the threads start.
struct interval_clock {
  runtime::deadline start;          ///< the run's t0 on the steady clock
  std::int64_t wall_start_ns = 0;   ///< t0 as Unix time, ns
  runtime::deadline measure_start;  ///< start + warm-up
  runtime::deadline measure_end;    ///< or no_deadline

  static interval_clock at(runtime::deadline start, runtime::clock::duration warmup,
                           runtime::deadline measure_end);
  phase phase_of(runtime::deadline t) const;
  /// The end of the interval holding `t`: the next second or phase boundary after `t`.
  runtime::deadline end_of(runtime::deadline t) const;
  std::int64_t unix_ns(runtime::deadline t) const;
};

/// A load thread's current interval and the intervals it has finished. Only its own thread
/// records; the driver takes finished intervals under the lock (a few times a second). A ticker
/// coroutine on each thread advances it at every boundary, so idle threads finish their
/// intervals too.
class interval_recorder {
 public:
  interval_recorder(const interval_clock& clock, bool open_loop);

  /// Call before recording an event at `now` (`now` never goes back): rolls over when the
  /// current interval has ended.
  void advance(runtime::deadline now, std::int64_t open) {
    if (now >= end_) roll(now, open);
  }
  interval& current() { return current_; }
  histogram& latency() { return latency_; }
  histogram& service() { return service_; }
  bool measuring() const { return current_.when == phase::measured; }
  runtime::deadline current_end() const { return end_; }

  /// Ends the current interval at `now` whether or not its time is up (the end of the run).
  void finish(runtime::deadline now, std::int64_t open);

  /// The finished intervals from the `from`-th on. Every recorder of a run cuts its intervals at
  /// the same boundaries, so the i-th of each thread covers the same slot.
  std::vector<interval> take(std::size_t from);

 private:
  void roll(runtime::deadline now, std::int64_t open);
  void close_current(runtime::deadline end, std::int64_t open);
  void open_at(runtime::deadline t);

  const interval_clock& clock_;
  const bool open_loop_;
  interval current_;
  runtime::deadline begin_{};
  runtime::deadline end_{};
  histogram latency_;  ///< the current interval's, full layout for cheap recording
  histogram service_;

  std::mutex lock_;  ///< guards finished_
  std::vector<interval> finished_;
};

}  // namespace echod::client
