// A log-bucketed latency histogram in the spirit of HdrHistogram: values in nanoseconds, exact
// below 256 ns, then 128 linear sub-buckets per power of two up to 2^36 ns (about 68.7 s), so a
// bucket is never wider than 1/128 of its lower bound and any value read back from it is within
// 0.4% of the true one. Fixed layout (3840 counters, 30 KiB): recording is a few shifts and an
// increment, two histograms merge by adding counters, and the bucket bounds written to JSON map
// back to the same buckets, which is what makes `echoload merge` exact. Not thread-safe: each
// load thread records into its own and they are merged after the threads end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace echod::client {

/// A histogram's non-empty buckets and exact figures: what a timeline interval keeps (a few
/// hundred bytes instead of the full 30 KiB layout).
struct histogram_snapshot {
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;  ///< (index, count), increasing
  std::uint64_t count = 0;
  std::uint64_t min = 0;
  std::uint64_t max = 0;
  std::uint64_t sum = 0;

  bool operator==(const histogram_snapshot&) const = default;
};

class histogram {
 public:
  static constexpr unsigned sub_bucket_bits = 7;  ///< 128 sub-buckets per power of two
  static constexpr unsigned max_value_bits = 36;  ///< values are clamped to 2^36 - 1 ns
  static constexpr std::uint64_t max_trackable = (std::uint64_t{1} << max_value_bits) - 1;
  /// 256 exact buckets, then 128 for each power of two from 2^8 to 2^35: 3840.
  static constexpr std::size_t bucket_count =
      (std::size_t{1} << (sub_bucket_bits + 1)) +
      (std::size_t{max_value_bits} - sub_bucket_bits - 1) * (std::size_t{1} << sub_bucket_bits);

  histogram() : counts_(bucket_count, 0) {}
  explicit histogram(const histogram_snapshot& s) : histogram() { merge(s); }

  /// Records one value (ns). Values past max_trackable land in the last bucket; min, max and sum
  /// keep the exact value.
  void record(std::uint64_t ns) {
    ++counts_[index_of(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }

  /// Adds every count of `other` to this one: the result equals the histogram of both inputs.
  void merge(const histogram& other);
  void merge(const histogram_snapshot& other);

  /// The non-empty buckets and the exact figures; histogram(snapshot()) == *this.
  histogram_snapshot snapshot() const;
  /// Back to empty, keeping the buckets' memory.
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  std::uint64_t sum() const { return sum_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  /// The value at percentile `p` (0..100) by nearest rank: the middle of the bucket holding the
  /// ceil(p% * count)-th smallest value, clamped to [min, max]. 0 when empty.
  std::uint64_t percentile(double p) const;

  std::uint64_t bucket(std::size_t index) const { return counts_[index]; }

  /// The bucket a value falls in.
  static std::size_t index_of(std::uint64_t ns) {
    if (ns > max_trackable) ns = max_trackable;
    if (ns < (std::uint64_t{1} << (sub_bucket_bits + 1))) return static_cast<std::size_t>(ns);
    const unsigned exponent = 63u - static_cast<unsigned>(__builtin_clzll(ns));
    const unsigned shift = exponent - sub_bucket_bits;
    return (static_cast<std::size_t>(shift) << sub_bucket_bits) + (ns >> shift);
  }
  /// The smallest and the largest value that fall in bucket `index`.
  static std::uint64_t lowest_in(std::size_t index);
  static std::uint64_t highest_in(std::size_t index);
  /// The value a bucket stands for in percentiles: its middle, which halves the worst-case error
  /// of either bound.
  static std::uint64_t middle_of(std::size_t index) {
    return lowest_in(index) + (highest_in(index) - lowest_in(index)) / 2;
  }

  /// Rebuilds a histogram from its parts (e.g. read back from JSON). Returns false, leaving this
  /// histogram unchanged, when the parts are inconsistent: an index out of range, or bucket
  /// counts that do not add up to `count`, or min/max outside the recorded buckets.
  bool assign(const std::vector<std::pair<std::size_t, std::uint64_t>>& buckets,
              std::uint64_t count, std::uint64_t min, std::uint64_t max, std::uint64_t sum);

  bool operator==(const histogram& other) const = default;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace echod::client
