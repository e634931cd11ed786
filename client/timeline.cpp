// Interval bookkeeping and the exact timeline merge (see timeline.hpp).
#include "client/timeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace echod::client {
namespace {

using runtime::clock;
using runtime::deadline;

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

histogram_snapshot merged(const histogram_snapshot& a, const histogram_snapshot& b) {
  if (b.count == 0) return a;
  if (a.count == 0) return b;
  histogram h(a);
  h.merge(b);
  return h.snapshot();
}

}  // namespace

const char* phase_key(phase p) {
  constexpr const char* keys[] = {"warmup", "measured", "wind-down"};
  return keys[static_cast<std::size_t>(p)];
}

void merge_interval(interval& into, const interval& in) {
  const double end = std::max(into.offset_s + into.length_s, in.offset_s + in.length_s);
  into.offset_s = std::min(into.offset_s, in.offset_s);
  into.length_s = end - into.offset_s;
  into.messages += in.messages;
  into.bytes_sent += in.bytes_sent;
  into.bytes_received += in.bytes_received;
  into.connects += in.connects;
  into.open += in.open;
  into.errors += in.errors;
  into.latency = merged(into.latency, in.latency);
  into.service = merged(into.service, in.service);
}

std::vector<interval> merge_timelines(const std::vector<std::vector<interval>>& timelines) {
  std::vector<interval> all;
  for (const auto& t : timelines) all.insert(all.end(), t.begin(), t.end());
  std::stable_sort(all.begin(), all.end(), [](const interval& a, const interval& b) {
    return a.second != b.second ? a.second < b.second : a.when < b.when;
  });
  std::vector<interval> out;
  for (const interval& i : all) {
    if (!out.empty() && out.back().same_slot(i)) {
      merge_interval(out.back(), i);
    } else {
      out.push_back(i);
    }
  }
  return out;
}

interval_clock interval_clock::at(deadline start, clock::duration warmup, deadline measure_end) {
  interval_clock c;
  c.start = start;
  c.wall_start_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  c.measure_start = start + warmup;
  c.measure_end = measure_end;
  return c;
}

std::int64_t interval_clock::unix_ns(deadline t) const {
  return wall_start_ns + std::chrono::duration_cast<std::chrono::nanoseconds>(t - start).count();
}

phase interval_clock::phase_of(deadline t) const {
  if (t < measure_start) return phase::warmup;
  if (t < measure_end) return phase::measured;
  return phase::wind_down;
}

deadline interval_clock::end_of(deadline t) const {
  const std::int64_t next_second = (floor_div(unix_ns(t), ns_per_s) + 1) * ns_per_s;
  deadline end = t + std::chrono::nanoseconds(next_second - unix_ns(t));
  if (t < measure_start) end = std::min(end, measure_start);
  if (t < measure_end) end = std::min(end, measure_end);
  return end;
}

interval_recorder::interval_recorder(const interval_clock& clock, bool open_loop)
    : clock_(clock), open_loop_(open_loop) {
  open_at(clock.start);
}

void interval_recorder::open_at(deadline t) {
  const std::int64_t ns = clock_.unix_ns(t);
  current_ = interval{};
  current_.second = floor_div(ns, ns_per_s);
  current_.offset_s = static_cast<double>(ns - current_.second * ns_per_s) / 1e9;
  current_.when = clock_.phase_of(t);
  begin_ = t;
  end_ = clock_.end_of(t);
}

void interval_recorder::close_current(deadline end, std::int64_t open) {
  current_.length_s = std::chrono::duration<double>(end - begin_).count();
  current_.open = open;
  current_.latency = latency_.snapshot();
  latency_.reset();
  if (open_loop_) {
    current_.service = service_.snapshot();
    service_.reset();
  }
  std::lock_guard guard(lock_);
  finished_.push_back(std::move(current_));
}

void interval_recorder::roll(deadline now, std::int64_t open) {
  // Intervals with nothing in them are kept too: a second without a reply is news.
  while (now >= end_) {
    const deadline end = end_;
    close_current(end, open);
    open_at(end);
  }
}

void interval_recorder::finish(deadline now, std::int64_t open) {
  advance(now, open);
  close_current(std::max(now, begin_), open);
  current_ = interval{};
  end_ = runtime::no_deadline;  // nothing is recorded after the end
}

std::vector<interval> interval_recorder::take(std::size_t from) {
  std::lock_guard guard(lock_);
  if (from >= finished_.size()) return {};
  return {finished_.begin() + static_cast<std::ptrdiff_t>(from), finished_.end()};
}

}  // namespace echod::client
