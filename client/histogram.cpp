// Percentiles, merging and reconstruction for the log-bucketed histogram (see histogram.hpp).
#include "client/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace echod::client {

std::uint64_t histogram::lowest_in(std::size_t index) {
  if (index < (std::size_t{1} << (sub_bucket_bits + 1))) return index;
  const std::size_t shift = (index >> sub_bucket_bits) - 1;
  const std::uint64_t sub = index - (shift << sub_bucket_bits);
  return sub << shift;
}

std::uint64_t histogram::highest_in(std::size_t index) {
  if (index < (std::size_t{1} << (sub_bucket_bits + 1))) return index;
  const std::size_t shift = (index >> sub_bucket_bits) - 1;
  const std::uint64_t sub = index - (shift << sub_bucket_bits);
  return ((sub + 1) << shift) - 1;
}

void histogram::merge(const histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void histogram::merge(const histogram_snapshot& other) {
  if (other.count == 0) return;
  for (const auto& [index, n] : other.buckets) counts_[index] += n;
  count_ += other.count;
  sum_ += other.sum;
  min_ = std::min(min_, other.min);
  max_ = std::max(max_, other.max);
}

histogram_snapshot histogram::snapshot() const {
  histogram_snapshot s;
  s.count = count_;
  s.min = min();
  s.max = max_;
  s.sum = sum_;
  if (count_ == 0) return s;
  for (std::size_t i = index_of(min_); i <= index_of(max_); ++i) {
    if (counts_[i] != 0) s.buckets.emplace_back(i, counts_[i]);
  }
  return s;
}

void histogram::reset() {
  if (count_ != 0) {
    std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(index_of(min_)),
              counts_.begin() + static_cast<std::ptrdiff_t>(index_of(max_)) + 1, 0);
  }
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

std::uint64_t histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // Nearest rank: the smallest value with at least p% of the values at or below it. One ulp off
  // first, as HdrHistogram does: 99.9 / 100 * 8000 is 7992.000000000001 in doubles, and its
  // ceiling would be one rank too far.
  const double at = p / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(at - (std::nextafter(at, INFINITY) - at)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::clamp(middle_of(i), min(), max_);
    }
  }
  return max_;
}

bool histogram::assign(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
                       std::uint64_t count, std::uint64_t min, std::uint64_t max,
                       std::uint64_t sum) {
  std::vector<std::uint64_t> counts(bucket_count, 0);
  std::uint64_t total = 0;
  std::size_t first = bucket_count;
  std::size_t last = 0;
  for (const auto& [index, n] : buckets) {
    if (index >= bucket_count) return false;
    counts[index] += n;
    total += n;
    if (n != 0) {
      first = std::min(first, index);
      last = std::max(last, index);
    }
  }
  if (total != count) return false;
  if (count > 0 && (min > max || index_of(min) != first || index_of(max) != last)) return false;
  counts_ = std::move(counts);
  count_ = count;
  sum_ = sum;
  min_ = count == 0 ? UINT64_MAX : min;
  max_ = count == 0 ? 0 : max;
  return true;
}

}  // namespace echod::client
