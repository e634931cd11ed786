// result<T>: a value or the reason there is none, and result<void> for checks.
#include "config/result.hpp"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace echod::config {
namespace {

result<int> half(int n) {
  if (n % 2 != 0) return failure{"odd: " + std::to_string(n)};
  return n / 2;
}

TEST(result, holds_the_value_or_the_reason) {
  const auto ok = half(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 4);
  const auto bad = half(7);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "odd: 7");
}

TEST(result, moves_a_value_that_cannot_be_copied) {
  result<std::unique_ptr<int>> r(std::make_unique<int>(3));
  ASSERT_TRUE(r.ok());
  const std::unique_ptr<int> taken = std::move(*r);
  EXPECT_EQ(*taken, 3);
}

TEST(result, void_says_only_whether_and_why) {
  const result<void> passed;
  EXPECT_TRUE(passed);
  const result<void> failed = failure{"no"};
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.error(), "no");
}

}  // namespace
}  // namespace echod::config
