// The timeline's bookkeeping without sockets: intervals are cut at whole wall-clock seconds and
// at the phase boundaries, cover the run without gaps, keep what was recorded in them, and merge
// slot by slot exactly.
#include "client/timeline.hpp"

#include <gtest/gtest.h>

namespace echod::client {
namespace {

using namespace std::chrono_literals;
using runtime::clock;

TEST(timeline, intervals_cut_at_seconds_and_phases_and_cover_the_run) {
  const auto start = clock::now();
  const interval_clock c = interval_clock::at(start, 1500ms, start + 1500ms + 2s);
  interval_recorder rec(c, false);
  // One message every 10 ms for 4 s: warm-up, window, wind-down.
  std::uint64_t recorded = 0;
  for (auto t = start; t < start + 4s; t += 10ms) {
    rec.advance(t, 3);
    ++rec.current().messages;
    rec.latency().record(1000 + recorded % 500);
    ++recorded;
  }
  rec.finish(start + 4s, 3);
  const std::vector<interval> all = rec.take(0);
  ASSERT_GE(all.size(), 5u);  // at least 4 seconds plus the warm-up's end cut
  double covered = 0;
  std::uint64_t messages = 0;
  std::uint64_t measured = 0;
  for (std::size_t k = 0; k < all.size(); ++k) {
    const interval& i = all[k];
    EXPECT_LE(i.length_s, 1.0 + 1e-9) << k;
    EXPECT_EQ(i.latency.count, i.messages) << k;
    EXPECT_EQ(i.open, 3) << k;
    if (k > 0) {
      // Consecutive: each starts where the previous one ended, in the same or the next second.
      const interval& p = all[k - 1];
      const double prev_end = static_cast<double>(p.second) + p.offset_s + p.length_s;
      EXPECT_NEAR(static_cast<double>(i.second) + i.offset_s, prev_end, 1e-6) << k;
      EXPECT_TRUE(i.second == p.second || (i.second == p.second + 1 && i.offset_s == 0)) << k;
      EXPECT_GE(i.when, p.when) << k;
    }
    covered += i.length_s;
    messages += i.messages;
    if (i.when == phase::measured) measured += i.messages;
  }
  EXPECT_NEAR(covered, 4.0, 1e-6);
  EXPECT_EQ(messages, recorded);
  EXPECT_EQ(measured, 200u);  // 2 s of the window at one message per 10 ms
  EXPECT_EQ(all.front().when, phase::warmup);
  EXPECT_EQ(all.back().when, phase::wind_down);
}

TEST(timeline, idle_seconds_are_kept_as_empty_intervals) {
  const auto start = clock::now();
  const interval_clock c = interval_clock::at(start, 0s, runtime::no_deadline);
  interval_recorder rec(c, true);
  rec.advance(start + 3500ms, 0);  // nothing happened for 3.5 s
  rec.finish(start + 3500ms, 0);
  const std::vector<interval> all = rec.take(0);
  ASSERT_GE(all.size(), 4u);
  for (const interval& i : all) {
    EXPECT_EQ(i.messages, 0u);
    EXPECT_EQ(i.when, phase::measured);
  }
  EXPECT_EQ(rec.take(all.size()).size(), 0u);
}

interval make(std::int64_t second, phase when, std::uint64_t messages, std::uint64_t value) {
  interval i;
  i.second = second;
  i.when = when;
  i.length_s = 1;
  i.messages = messages;
  i.connects = 1;
  i.open = 2;
  histogram h;
  for (std::uint64_t k = 0; k < messages; ++k) h.record(value + k);
  i.latency = h.snapshot();
  return i;
}

TEST(timeline, merge_lines_slots_up_and_adds_them_exactly) {
  const std::vector<interval> a = {make(100, phase::warmup, 3, 1000),
                                   make(101, phase::measured, 5, 2000),
                                   make(102, phase::measured, 7, 3000)};
  const std::vector<interval> b = {make(101, phase::warmup, 2, 500),
                                   make(101, phase::measured, 4, 90000),
                                   make(103, phase::measured, 1, 7)};
  const std::vector<interval> m = merge_timelines({a, b});
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0].second, 100);
  EXPECT_EQ(m[1].second, 101);
  EXPECT_EQ(m[1].when, phase::warmup);
  EXPECT_EQ(m[2].second, 101);
  EXPECT_EQ(m[2].when, phase::measured);
  EXPECT_EQ(m[2].messages, 9u);
  EXPECT_EQ(m[2].connects, 2u);
  EXPECT_EQ(m[2].open, 4);
  histogram both(a[1].latency);
  both.merge(b[1].latency);
  EXPECT_EQ(m[2].latency, both.snapshot());
  EXPECT_EQ(m[2].latency.max, 90003u);
  EXPECT_EQ(m[3].second, 102);
  EXPECT_EQ(m[4].second, 103);
}

TEST(histogram_snapshot, round_trips_and_resets) {
  histogram h;
  for (std::uint64_t v : {0u, 7u, 300u, 300u, 123456789u}) h.record(v);
  const histogram back(h.snapshot());
  EXPECT_EQ(back, h);
  EXPECT_EQ(h.snapshot().buckets.size(), 4u);
  h.reset();
  EXPECT_EQ(h, histogram());
}

}  // namespace
}  // namespace echod::client
