// The scheduler over each real backend, for the one thing the fake poller cannot show: that a
// post() from another thread ends a poll blocked in the kernel (epoll_wait, io_uring_enter). The
// rest of the scheduler's contract is tested on the fake (scheduler_test.cpp).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/scheduler_pool.hpp"

namespace echod::runtime {
namespace {

using namespace std::chrono_literals;

class scheduler_over_backend_test : public testing::backend_test {};

// A thread's state letter from /proc ('R' running, 'S' asleep in the kernel, ...); '?' if unread.
char thread_state(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return '?';
  const auto close = line.rfind(')');  // the name may hold spaces and parentheses
  return close != std::string::npos && close + 2 < line.size() ? line[close + 2] : '?';
}

TEST_P(scheduler_over_backend_test, post_from_another_thread_wakes_a_loop_blocked_in_the_kernel) {
  auto sched = make_scheduler();
  std::atomic<bool> parked{false};
  coroutine* waiter = nullptr;
  wake_reason seen = wake_reason::timed_out;
  waiter = sched->spawn([&] {
    parked = true;
    seen = this_coroutine::park(clock::now() + 60s);
  });
  const pid_t loop_tid = ::gettid();
  std::thread poster([&] {
    // Parked, then asleep in the kernel ('S' in /proc): the loop is blocked in its poller. (Had
    // it not got there within the limit, the post must end the coming poll just the same.)
    while (!parked.load()) std::this_thread::yield();
    const auto until = clock::now() + 10s;
    while (thread_state(loop_tid) != 'S' && clock::now() < until) std::this_thread::yield();
    sched->post([&] { scheduler::current()->wake(waiter); });
  });
  const auto start = clock::now();
  sched->run();
  poster.join();
  EXPECT_EQ(seen, wake_reason::woken);
  EXPECT_LT(clock::now() - start, 30s);  // not the 60 s deadline
}

TEST_P(scheduler_over_backend_test, pool_stops_threads_blocked_in_the_kernel) {
  scheduler_pool::options opts;
  opts.threads = 3;
  opts.thread_name = "pooltest";
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  const auto backend = GetParam();
  {
    scheduler_pool pool(
        opts, [backend](std::size_t) { return io::make_reactor(backend); },
        [&](scheduler& s, std::size_t) {
          s.spawn([&] {
            ++started;
            started.notify_all();
            if (this_coroutine::sleep_for(1h) == wake_reason::cancelled) ++cancelled;
          });
        });
    for (int n = 0; (n = started.load()) < 3;) started.wait(n);
    pool.stop();
    pool.join();
    EXPECT_TRUE(pool.errors().empty());
  }
  EXPECT_EQ(cancelled.load(), 3);
}

ECHOD_INSTANTIATE_BACKENDS(scheduler_over_backend_test);

}  // namespace
}  // namespace echod::runtime
