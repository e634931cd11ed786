// The latency histogram: bucket layout, percentiles against exact nearest-rank percentiles of
// known data (uniform, exponential, constant) within 1%, and exact merging.
#include "client/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace echod::client {
namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> values, double p) {
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

void expect_percentiles_within_one_percent(const std::vector<std::uint64_t>& values) {
  histogram h;
  for (auto v : values) h.record(v);
  for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const double exact = static_cast<double>(exact_percentile(values, p));
    const double got = static_cast<double>(h.percentile(p));
    EXPECT_LE(std::abs(got - exact), exact * 0.01)
        << "p" << p << ": exact " << exact << ", got " << got;
  }
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  double sum = 0;
  for (auto v : values) sum += static_cast<double>(v);
  EXPECT_NEAR(h.mean(), sum / static_cast<double>(values.size()), 1e-6 * h.mean());
}

TEST(histogram, buckets_tile_the_range_without_gaps_and_stay_within_one_percent) {
  EXPECT_EQ(histogram::bucket_count, 3840u);
  std::uint64_t expected_low = 0;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    const std::uint64_t lo = histogram::lowest_in(i);
    const std::uint64_t hi = histogram::highest_in(i);
    ASSERT_EQ(lo, expected_low) << i;
    ASSERT_LE(lo, hi);
    ASSERT_EQ(histogram::index_of(lo), i);
    ASSERT_EQ(histogram::index_of(hi), i);
    if (lo >= 1000) {
      ASSERT_LE(static_cast<double>(hi - lo), 0.01 * static_cast<double>(lo)) << i;
    }
    expected_low = hi + 1;
  }
  EXPECT_EQ(expected_low - 1, histogram::max_trackable);
  EXPECT_GE(histogram::max_trackable, 60'000'000'000u);  // 60 s in ns
}

TEST(histogram, empty_reads_as_zero) {
  histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(histogram, uniform_percentiles_match_exact_ones) {
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::uint64_t> dist(1'000, 100'000'000);  // 1 us .. 100 ms
  std::vector<std::uint64_t> values(200'000);
  for (auto& v : values) v = dist(rng);
  expect_percentiles_within_one_percent(values);
}

TEST(histogram, exponential_percentiles_match_exact_ones) {
  std::mt19937_64 rng(2);
  std::exponential_distribution<double> dist(1.0 / 50'000.0);  // mean 50 us: a long tail
  std::vector<std::uint64_t> values(200'000);
  for (auto& v : values) v = 1'000 + static_cast<std::uint64_t>(dist(rng));
  expect_percentiles_within_one_percent(values);
}

TEST(histogram, constant_values_read_back_exactly) {
  std::vector<std::uint64_t> values(1000, 123'456);
  expect_percentiles_within_one_percent(values);
  histogram h;
  for (auto v : values) h.record(v);
  EXPECT_EQ(h.percentile(50), 123'456u);
  EXPECT_EQ(h.percentile(99.99), 123'456u);
}

TEST(histogram, spans_one_microsecond_to_sixty_seconds) {
  std::vector<std::uint64_t> values;
  for (std::uint64_t v = 1'000; v <= 60'000'000'000; v = v * 11 / 10) values.push_back(v);
  expect_percentiles_within_one_percent(values);
}

TEST(histogram, values_past_the_range_are_clamped_but_max_is_exact) {
  histogram h;
  h.record(100'000'000'000);  // 100 s
  EXPECT_EQ(h.max(), 100'000'000'000u);
  EXPECT_EQ(h.bucket(histogram::bucket_count - 1), 1u);
  EXPECT_EQ(h.percentile(100), 100'000'000'000u);
}

TEST(histogram, merging_equals_recording_the_union) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(11.0, 1.5);
  histogram a, b, both;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<std::uint64_t>(dist(rng));
    (i % 3 == 0 ? a : b).record(v);
    both.record(v);
  }
  histogram merged = a;
  merged.merge(b);
  EXPECT_EQ(merged, both);
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
    EXPECT_EQ(merged.percentile(p), both.percentile(p));
}

TEST(histogram, assign_rebuilds_from_parts_and_rejects_inconsistent_ones) {
  histogram h;
  for (std::uint64_t v : {900u, 5'000u, 5'010u, 70'000u}) h.record(v);
  std::vector<std::pair<std::size_t, std::uint64_t>> parts;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.bucket(i) != 0) parts.emplace_back(i, h.bucket(i));
  }
  histogram back;
  ASSERT_TRUE(back.assign(parts, h.count(), h.min(), h.max(), h.sum()));
  EXPECT_EQ(back, h);
  EXPECT_FALSE(back.assign(parts, h.count() + 1, h.min(), h.max(), h.sum()));
  EXPECT_FALSE(back.assign(parts, h.count(), 10, h.max(), h.sum()));  // min not in a bucket
  EXPECT_FALSE(back.assign({{histogram::bucket_count, 1}}, 1, 1, 1, 1));
  EXPECT_EQ(back, h);  // unchanged by the failures
}

}  // namespace
}  // namespace echod::client
