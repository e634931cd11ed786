// parse_size / parse_duration edge cases (units, overflow, junk, signs) and that the formatters
// print text that parses back to the same value.
#include "config/units.hpp"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

namespace echod::config {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

TEST(parse_size, plain_integers_are_bytes) {
  EXPECT_EQ(parse_size("0"), 0U);
  EXPECT_EQ(parse_size("65536"), 65536U);
  EXPECT_EQ(parse_size("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
}

TEST(parse_size, every_unit_is_binary) {
  EXPECT_EQ(parse_size("512B"), 512U);
  EXPECT_EQ(parse_size("64K"), 64U << 10);
  EXPECT_EQ(parse_size("64KB"), 64U << 10);  // KB is 1024 too, on purpose
  EXPECT_EQ(parse_size("64KiB"), 64U << 10);
  EXPECT_EQ(parse_size("16M"), 16U << 20);
  EXPECT_EQ(parse_size("16MB"), 16U << 20);
  EXPECT_EQ(parse_size("16MiB"), 16U << 20);
  EXPECT_EQ(parse_size("1G"), 1ULL << 30);
  EXPECT_EQ(parse_size("1GB"), 1ULL << 30);
  EXPECT_EQ(parse_size("3GiB"), 3ULL << 30);
}

TEST(parse_size, units_are_case_insensitive) {
  EXPECT_EQ(parse_size("64kib"), 64U << 10);
  EXPECT_EQ(parse_size("64k"), 64U << 10);
  EXPECT_EQ(parse_size("2mb"), 2U << 20);
  EXPECT_EQ(parse_size("8b"), 8U);
}

TEST(parse_size, rejects_overflow) {
  EXPECT_FALSE(parse_size("18446744073709551616"));  // 2^64
  EXPECT_FALSE(parse_size("99999999999999999999999"));
  EXPECT_FALSE(parse_size("17179869184GiB"));  // 2^34 * 2^30 = 2^64
  EXPECT_EQ(parse_size("17179869183GiB"), 17179869183ULL << 30);
}

TEST(parse_size, rejects_junk_signs_fractions_and_spaces) {
  for (const char* text : {"", "K", "KiB", "-1", "+1", "-1K", "1.5MiB", "64 KiB", " 64", "64KiB ",
                           "64Ki", "64KiBB", "64T", "0x10", "1e3", "64kbit", "sixty"}) {
    EXPECT_FALSE(parse_size(text)) << text;
  }
}

TEST(format_size, picks_the_largest_exact_unit) {
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(format_size(1), "1B");
  EXPECT_EQ(format_size(1000), "1000B");
  EXPECT_EQ(format_size(1024), "1KiB");
  EXPECT_EQ(format_size(1536), "1536B");
  EXPECT_EQ(format_size(65536), "64KiB");
  EXPECT_EQ(format_size(1 << 20), "1MiB");
  EXPECT_EQ(format_size(3ULL << 30), "3GiB");
  EXPECT_EQ(format_size(1ULL << 40), "1024GiB");
}

TEST(format_size, round_trips) {
  for (std::uint64_t n :
       std::initializer_list<std::uint64_t>{0, 1, 511, 512, 1536, 65536, 1ULL << 20, 5ULL << 30,
                                            std::numeric_limits<std::uint64_t>::max()}) {
    EXPECT_EQ(parse_size(format_size(n)), n) << n;
  }
}

TEST(parse_duration, every_unit) {
  EXPECT_EQ(parse_duration("7ns"), 7ns);
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("500ms"), 500ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("2m"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("0s"), 0ns);
}

TEST(parse_duration, fractions_round_to_the_nearest_nanosecond) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0.1s"), 100ms);
  EXPECT_EQ(parse_duration("0.001s"), 1ms);
  EXPECT_EQ(parse_duration("1.25m"), 75s);
  EXPECT_EQ(parse_duration("0.5h"), 30min);
  EXPECT_EQ(parse_duration("2.5us"), 2500ns);
  EXPECT_EQ(parse_duration("0.0000000004s"), 0ns);
  EXPECT_EQ(parse_duration("0.0000000006s"), 1ns);
  EXPECT_EQ(parse_duration("1.000000001s"), 1000000001ns);
}

TEST(parse_duration, rejects_overflow) {
  // int64 nanoseconds end a little past 9223372036s (about 292 years).
  EXPECT_EQ(parse_duration("9223372036s"), 9223372036s);
  EXPECT_FALSE(parse_duration("9223372037s"));
  EXPECT_FALSE(parse_duration("2562048h"));
  EXPECT_FALSE(parse_duration("99999999999999999999999s"));
  EXPECT_EQ(parse_duration("9223372036854775807ns"), nanoseconds::max());
  EXPECT_FALSE(parse_duration("9223372036854775808ns"));
  EXPECT_FALSE(parse_duration("9223372036.9s"));  // the fraction tips it over
}

TEST(parse_duration, rejects_junk_signs_and_missing_units) {
  for (const char* text :
       {"",     "s",    "10",  "1.5",   "-1s", "+1s",   "1.s",  ".5s",  "1..5s", "10 s",
        " 10s", "10s ", "10S", "10sec", "1d",  "10ms5", "1e3s", "1,5s", "ten s", "5µs"}) {
    EXPECT_FALSE(parse_duration(text)) << text;
  }
}

TEST(format_duration, picks_the_largest_exact_unit) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(2h), "2h");
  EXPECT_EQ(format_duration(90min), "90m");
  EXPECT_EQ(format_duration(120s), "2m");
  EXPECT_EQ(format_duration(90s), "90s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(250us), "250us");
  EXPECT_EQ(format_duration(1001ns), "1001ns");
  EXPECT_EQ(format_duration(-5s), "-5s");
}

TEST(format_duration, round_trips) {
  for (nanoseconds d : {nanoseconds(0), nanoseconds(1), nanoseconds(1500ms), nanoseconds(3h),
                        nanoseconds(61s), nanoseconds::max()}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace echod::config
