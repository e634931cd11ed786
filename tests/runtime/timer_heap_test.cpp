// The timer heap against a reference multiset, under random pushes, removals and pops.
#include "runtime/timer_heap.hpp"

#include <random>
#include <set>

#include <gtest/gtest.h>

#include "fake_poller.hpp"
#include "runtime/scheduler.hpp"

namespace echod::runtime {
namespace {

using namespace std::chrono_literals;

class timer_order_test : public testing::fake_poller_test {};

// The heap needs real coroutines (it stores their slots), so drive it through park deadlines:
// random deadlines, a random subset woken early; the rest must time out in deadline order.
TEST_F(timer_order_test, random_deadlines_fire_in_order_and_early_wakes_leave_no_trace) {
  std::mt19937 rng(42);
  auto sched = make_scheduler();
  std::vector<coroutine*> all;
  std::vector<std::pair<int, int>> fired;  // (deadline ms, id)
  std::vector<int> deadlines;
  const auto start = clock::now() + 20ms;
  for (int id = 0; id < 300; ++id) {
    const int ms = static_cast<int>(rng() % 60);
    deadlines.push_back(ms);
    all.push_back(sched->spawn([&, id, ms] {
      if (this_coroutine::park(start + std::chrono::milliseconds(ms)) == wake_reason::timed_out) {
        fired.emplace_back(ms, id);
      }
    }));
  }
  std::set<int> woken;
  sched->spawn([&] {
    std::mt19937 pick(3);
    for (int i = 0; i < 100; ++i) {
      const int id = static_cast<int>(pick() % 300);
      if (woken.insert(id).second) scheduler::current()->wake(all[id]);
    }
  });
  sched->run();
  EXPECT_EQ(fired.size(), 300 - woken.size());
  for (std::size_t i = 1; i < fired.size(); ++i) EXPECT_LE(fired[i - 1].first, fired[i].first);
  for (const auto& [ms, id] : fired) EXPECT_EQ(woken.count(id), 0u);
}

}  // namespace
}  // namespace echod::runtime
