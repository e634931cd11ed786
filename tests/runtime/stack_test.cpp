// Stacks: the guard page turns an overflow into a clear death, and the pool reuses stacks.
#include <cstring>

#include <gtest/gtest.h>

#include "fake_poller.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/stack_pool.hpp"

namespace echod::runtime {
namespace {

TEST(stack_pool, reuses_released_stacks_and_rounds_to_pages) {
  stack_pool pool(10'000);
  EXPECT_EQ(pool.stack_size() % 4096, 0u);
  EXPECT_GE(pool.stack_size(), 10'000u);
  const stack_span a = pool.acquire();
  std::memset(a.base, 0xab, a.size);  // every usable byte is writable
  pool.release(a);
  EXPECT_EQ(pool.cached(), 1u);
  const stack_span b = pool.acquire();
  EXPECT_EQ(b.base, a.base);
  pool.release(b);
}

// Recursion the optimizer cannot flatten: each frame keeps a buffer alive across the call.
int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return depth <= 0 ? frame[0] : recurse(depth - 1) + frame[0];
}

class stack_death_test : public testing::fake_poller_test {};

TEST_F(stack_death_test, overflow_dies_with_a_message_naming_the_stack_size) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        scheduler::options opts;
        opts.stack_size = 32 * 1024;
        run([] { recurse(1'000'000); }, opts);
      },
      "coroutine stack overflow: .* 32768-byte stack");
}

}  // namespace
}  // namespace echod::runtime
