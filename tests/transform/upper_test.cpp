// transform::upper_copy against Python's bytes.upper(), written out byte by byte here: every
// byte value, at every length and offset that crosses the 64- and 16-byte vector paths, in place
// and into a separate buffer.
#include "transform/upper.hpp"

#include <cstddef>
#include <string>

#include <gtest/gtest.h>

namespace echod::transform {
namespace {

char reference_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

std::string all_bytes_three_times() {
  std::string all;
  for (int i = 0; i < 3 * 256; ++i) all.push_back(static_cast<char>(i));
  return all;
}

TEST(upper, in_place_is_python_bytes_upper_at_every_length_and_offset) {
  const std::string all = all_bytes_three_times();
  for (std::size_t offset = 0; offset < 17; ++offset) {
    for (std::size_t n = 0; n + offset <= all.size(); n += 13) {
      std::string got = all.substr(offset, n);
      upper_in_place(got.data(), got.size());
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], reference_upper(all[offset + i]))
            << "offset " << offset << " length " << n << " byte " << i;
      }
    }
  }
}

TEST(upper, copy_writes_the_transform_and_leaves_the_source_alone) {
  const std::string all = all_bytes_three_times();
  std::string out(all.size() + 1, '#');
  upper_copy(out.data(), all.data(), all.size());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(out[i], reference_upper(all[i])) << i;
  EXPECT_EQ(out.back(), '#') << "nothing past n is written";
  EXPECT_EQ(all, all_bytes_three_times());
}

}  // namespace
}  // namespace echod::transform
