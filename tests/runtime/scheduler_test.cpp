// The scheduler's contract, on a fake poller (no io/): order, parking, deadlines, cancellation,
// exceptions, teardown, scale, cross-thread posts, and what it asks of its poller.
#include "runtime/scheduler.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fake_poller.hpp"
#include "runtime/scheduler_pool.hpp"

namespace echod::runtime {
namespace {

using namespace std::chrono_literals;
using testing::fake_poller;

class scheduler_test : public testing::fake_poller_test {};

TEST_F(scheduler_test, spawned_coroutines_run_in_fifo_order_and_yield_interleaves) {
  std::vector<int> trace;
  auto sched = make_scheduler();
  for (int id = 0; id < 3; ++id) {
    sched->spawn([&, id] {
      trace.push_back(id);
      this_coroutine::yield();
      trace.push_back(10 + id);
    });
  }
  sched->run();
  EXPECT_EQ(trace, (std::vector<int>{0, 1, 2, 10, 11, 12}));
  EXPECT_EQ(sched->live(), 0u);
}

TEST_F(scheduler_test, park_returns_woken_when_another_coroutine_wakes_it) {
  auto sched = make_scheduler();
  coroutine* sleeper = nullptr;
  wake_reason seen = wake_reason::timed_out;
  sleeper = sched->spawn([&] { seen = this_coroutine::park(); });
  sched->spawn([&] { scheduler::current()->wake(sleeper); });
  sched->run();
  EXPECT_EQ(seen, wake_reason::woken);
}

TEST_F(scheduler_test, park_with_deadline_times_out_not_before_the_deadline) {
  wake_reason seen = wake_reason::woken;
  clock::duration waited{};
  run([&] {
    const auto start = clock::now();
    seen = this_coroutine::park(start + 20ms);
    waited = clock::now() - start;
  });
  EXPECT_EQ(seen, wake_reason::timed_out);
  EXPECT_GE(waited, 20ms);
}

// Timer entries are lazy (scheduler.cpp): a woken park leaves its entry behind. These check that
// an entry left behind never ends a later wait early, and that an earlier deadline still counts.
TEST_F(scheduler_test, a_stale_earlier_timer_times_out_the_next_park_at_its_own_deadline) {
  auto sched = make_scheduler();
  coroutine* sleeper = nullptr;
  wake_reason first = wake_reason::timed_out, second = wake_reason::woken;
  clock::duration waited{};
  sleeper = sched->spawn([&] {
    first = this_coroutine::park(clock::now() + 30ms);
    const auto start = clock::now();
    second = this_coroutine::park(start + 150ms);
    waited = clock::now() - start;
  });
  sched->spawn([&] { scheduler::current()->wake(sleeper); });
  sched->run();
  EXPECT_EQ(first, wake_reason::woken);
  EXPECT_EQ(second, wake_reason::timed_out);
  EXPECT_GE(waited, 150ms);
}

TEST_F(scheduler_test, a_park_with_an_earlier_deadline_than_a_stale_timer_fires_at_its_own) {
  auto sched = make_scheduler();
  coroutine* sleeper = nullptr;
  wake_reason first = wake_reason::timed_out, second = wake_reason::woken;
  clock::duration waited{};
  sleeper = sched->spawn([&] {
    first = this_coroutine::park(clock::now() + 60s);
    const auto start = clock::now();
    second = this_coroutine::park(start + 20ms);
    waited = clock::now() - start;
  });
  sched->spawn([&] { scheduler::current()->wake(sleeper); });
  sched->run();
  EXPECT_EQ(first, wake_reason::woken);
  EXPECT_EQ(second, wake_reason::timed_out);
  EXPECT_GE(waited, 20ms);
  EXPECT_LT(waited, 30s);  // the 60 s entry was moved earlier, not waited out
}

TEST_F(scheduler_test, wake_before_deadline_removes_the_timer) {
  auto sched = make_scheduler();
  coroutine* sleeper = nullptr;
  std::vector<wake_reason> seen;
  sleeper = sched->spawn([&] {
    seen.push_back(this_coroutine::park(clock::now() + 50ms));
    // Parked again with a far deadline: the first (50 ms) timer must not fire into this wait.
    seen.push_back(this_coroutine::park(clock::now() + 10s));
  });
  sched->spawn([&] {
    scheduler::current()->wake(sleeper);
    this_coroutine::sleep_for(100ms);
    scheduler::current()->wake(sleeper);
  });
  sched->run();
  EXPECT_EQ(seen, (std::vector<wake_reason>{wake_reason::woken, wake_reason::woken}));
}

TEST_F(scheduler_test, cancel_wakes_a_parked_coroutine_and_sticks) {
  auto sched = make_scheduler();
  wake_reason first = wake_reason::woken;
  bool cancelled_after = false;
  coroutine* victim = sched->spawn([&] {
    first = this_coroutine::park();
    cancelled_after = this_coroutine::cancelled();
  });
  sched->spawn([&] { scheduler::current()->cancel(victim); });
  sched->run();
  EXPECT_EQ(first, wake_reason::cancelled);
  EXPECT_TRUE(cancelled_after);
}

TEST_F(scheduler_test, cancel_before_park_makes_the_next_park_return_at_once) {
  auto sched = make_scheduler();
  wake_reason seen = wake_reason::woken;
  coroutine* victim = sched->spawn([&] {
    this_coroutine::yield();  // the cancel lands while we are ready, not parked
    seen = this_coroutine::park();
  });
  sched->spawn([&] { scheduler::current()->cancel(victim); });
  sched->run();
  EXPECT_EQ(seen, wake_reason::cancelled);
}

TEST_F(scheduler_test, expire_ends_a_park_as_timed_out_and_does_not_stick) {
  auto sched = make_scheduler();
  std::vector<wake_reason> seen;
  bool cancelled_after = true;
  coroutine* victim = sched->spawn([&] {
    seen.push_back(this_coroutine::park(clock::now() + 1h));
    seen.push_back(this_coroutine::park(clock::now() + 10ms));  // the next park waits again
    cancelled_after = this_coroutine::cancelled();
  });
  sched->spawn([&] { scheduler::current()->expire(victim); });
  sched->run();
  EXPECT_EQ(seen, (std::vector<wake_reason>{wake_reason::timed_out, wake_reason::timed_out}));
  EXPECT_FALSE(cancelled_after);
}

TEST_F(scheduler_test, expire_is_a_no_op_for_a_coroutine_that_is_not_parked) {
  auto sched = make_scheduler();
  wake_reason seen = wake_reason::timed_out;
  coroutine* victim = sched->spawn([&] {
    this_coroutine::yield();  // the expire lands while we are ready: nothing is remembered
    seen = this_coroutine::park(clock::now() + 1h);
  });
  sched->spawn([&] {
    scheduler::current()->expire(victim);
    this_coroutine::yield();  // the victim parks in this turn, after its yield
    scheduler::current()->wake(victim);
  });
  sched->run();
  EXPECT_EQ(seen, wake_reason::woken);
}

TEST_F(scheduler_test, sleep_for_many_coroutines_wakes_them_in_deadline_order) {
  std::vector<int> order;
  auto sched = make_scheduler();
  const auto t0 = clock::now();  // one base: a preemption between the spawns cannot reorder them
  for (int ms : {30, 10, 20}) {
    sched->spawn([&, ms] {
      scheduler::current()->sleep_until(t0 + std::chrono::milliseconds(ms));
      order.push_back(ms);
    });
  }
  sched->run();
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
}

TEST_F(scheduler_test, an_exception_ends_only_its_own_coroutine) {
  std::vector<std::string> reported;
  scheduler::options opts;
  opts.on_uncaught_exception = [&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      reported.push_back(ex.what());
    }
  };
  auto sched = make_scheduler(opts);
  bool other_finished = false;
  sched->spawn([] {
    this_coroutine::yield();
    throw std::runtime_error("boom");
  });
  sched->spawn([&] {
    this_coroutine::yield();
    this_coroutine::yield();  // still running after the turn the other one threw in
    other_finished = true;
  });
  sched->run();
  EXPECT_TRUE(other_finished);
  EXPECT_EQ(reported, std::vector<std::string>{"boom"});
  EXPECT_EQ(sched->uncaught_exceptions(), 1u);
}

struct counted {
  int* count;
  explicit counted(int* c) : count(c) {}
  ~counted() { ++*count; }
  counted(const counted&) = delete;
  counted& operator=(const counted&) = delete;
};

TEST_F(scheduler_test, destroying_the_scheduler_unwinds_suspended_coroutines) {
  int destroyed = 0;
  int reached_end = 0;
  bool swallowed = false;
  int never_started = 0;
  {
    auto sched = make_scheduler();
    for (int i = 0; i < 3; ++i) {
      sched->spawn([&] {
        counted guard(&destroyed);
        try {
          // Deaf to cancellation: parks again, so only a forced unwind can end it.
          for (;;) this_coroutine::park();
        } catch (const std::exception&) {
          swallowed = true;  // forced_unwind is no std::exception: it must pass through
        }
        ++reached_end;
      });
    }
    EXPECT_EQ(sched->run_until_idle(), 3u);
    sched->spawn([&] { ++never_started; });  // destroyed before it ever runs
  }
  EXPECT_EQ(destroyed, 3);
  EXPECT_EQ(reached_end, 0);
  EXPECT_FALSE(swallowed);
  EXPECT_EQ(never_started, 0);
}

TEST_F(scheduler_test, destroying_the_scheduler_lets_cancellable_coroutines_finish) {
  int finished = 0;
  {
    auto sched = make_scheduler();
    for (int i = 0; i < 100; ++i) {
      sched->spawn([&] {
        if (this_coroutine::sleep_for(1h) == wake_reason::cancelled) ++finished;
      });
    }
    EXPECT_EQ(sched->run_until_idle(), 100u);
  }
  EXPECT_EQ(finished, 100);
}

TEST_F(scheduler_test, ten_thousand_coroutines_on_one_thread) {
  constexpr int count = 10'000;
  int done = 0;
  std::mt19937 rng(7);
  scheduler::options opts;
  opts.stack_size = 32 * 1024;
  auto sched = make_scheduler(opts);
  std::vector<coroutine*> parked;
  int parked_for_good = 0;
  coroutine* waker = nullptr;
  for (int i = 0; i < count; ++i) {
    const auto nap = std::chrono::microseconds(rng() % 20'000);
    parked.push_back(sched->spawn([&, nap] {
      this_coroutine::sleep_for(nap);
      this_coroutine::yield();
      // The last one to get here wakes the waker; it parks in this same turn, before the waker
      // runs.
      if (++parked_for_good == count && waker != nullptr) scheduler::current()->wake(waker);
      if (this_coroutine::park() == wake_reason::woken) ++done;
    }));
  }
  EXPECT_EQ(sched->run_until_idle(), static_cast<std::size_t>(count));  // timers still pending
  waker = sched->spawn([&] {
    // Everyone parked for good - counted, not assumed from a sleep - then wake them all.
    if (parked_for_good < count) this_coroutine::park();
    for (coroutine* c : parked) scheduler::current()->wake(c);
  });
  sched->run();
  EXPECT_EQ(done, count);
}

TEST_F(scheduler_test, post_from_another_thread_wakes_a_sleeping_loop) {
  auto sched = make_scheduler();
  coroutine* waiter = nullptr;
  wake_reason seen = wake_reason::timed_out;
  waiter = sched->spawn([&] { seen = this_coroutine::park(clock::now() + 10s); });
  fake_poller& p = fake();
  std::thread poster([&] {
    EXPECT_TRUE(p.wait_until_blocked());  // an event, not a guess that 20 ms is enough
    sched->post([&] { scheduler::current()->wake(waiter); });
  });
  const auto start = clock::now();
  sched->run();
  poster.join();
  EXPECT_EQ(seen, wake_reason::woken);
  EXPECT_LT(clock::now() - start, 5s);
  EXPECT_GE(p.interrupts(), 1u);  // post() is what ended the blocked poll
}

// echod's master forks its workers from a task in its scheduler's mailbox; each worker then runs
// a scheduler of its own on the same thread (server/worker.cpp).
TEST_F(scheduler_test, a_child_forked_between_turns_leaves_the_parents_scheduler_for_its_own) {
  auto parent = make_scheduler();
  int status = -1;
  parent->spawn([&] {
    parent->post([&] {
      const pid_t pid = ::fork();
      if (pid != 0) {
        if (pid > 0) ::waitpid(pid, &status, 0);
        return;
      }
      // The child: still inside parent->run(), where current() is the parent.
      bool ok = scheduler::current() == parent.get();
      scheduler::leave_after_fork();
      ok = ok && scheduler::current() == nullptr;
      auto own = make_scheduler();
      own->spawn([&] { ok = ok && scheduler::current() == own.get(); });
      own->run();
      ok = ok && scheduler::current() == nullptr;
      ::_exit(ok ? 0 : 1);
    });
  });
  parent->run();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A pool stopping threads blocked in their pollers: scheduler_over_backends_test.cpp, over the
// real ones.

TEST_F(scheduler_test, pool_reports_a_thread_that_fails_to_start) {
  scheduler_pool::options opts;
  opts.threads = 2;
  scheduler_pool pool(
      opts,
      [](std::size_t i) -> std::unique_ptr<poller> {
        if (i == 1) throw std::runtime_error("no ring for you");
        return std::make_unique<fake_poller>();
      },
      [](scheduler&, std::size_t) {});
  pool.join();
  EXPECT_EQ(pool.errors(), std::vector<std::string>{"thread 1: no ring for you"});
}

// ---- what the scheduler asks of its poller ----

TEST_F(scheduler_test, a_completion_from_the_poller_wakes_the_parked_coroutine) {
  auto sched = make_scheduler();
  fake_poller& p = fake();
  wake_reason seen = wake_reason::timed_out;
  coroutine* reader = sched->spawn([&] { seen = this_coroutine::park(clock::now() + 1h); });
  std::thread kernel([&] {
    EXPECT_TRUE(p.wait_until_blocked());
    p.complete(reader);
  });
  sched->run();
  kernel.join();
  EXPECT_EQ(seen, wake_reason::woken);
  // It blocked with the park's deadline as its timeout: positive, and no longer than the hour.
  const auto timeouts = p.timeouts();
  ASSERT_FALSE(timeouts.empty());
  EXPECT_GT(timeouts.back(), 0ns);
  EXPECT_LE(timeouts.back(), 1h);
}

TEST_F(scheduler_test, with_no_timer_the_poller_waits_without_a_limit) {
  auto sched = make_scheduler();
  fake_poller& p = fake();
  coroutine* reader = sched->spawn([&] { this_coroutine::park(); });
  std::thread kernel([&] {
    EXPECT_TRUE(p.wait_until_blocked());
    p.complete(reader);
  });
  sched->run();
  kernel.join();
  const auto timeouts = p.timeouts();
  ASSERT_FALSE(timeouts.empty());
  EXPECT_LT(timeouts.back(), 0ns);
}

TEST_F(scheduler_test, a_completion_for_a_coroutine_not_parked_is_ignored) {
  auto sched = make_scheduler();
  int turns = 0;
  coroutine* busy = sched->spawn([&] {
    for (; turns < 40; ++turns) this_coroutine::yield();
  });
  fake().complete(busy);  // lands while it is ready, never parked: nothing to wake
  sched->run();
  EXPECT_EQ(turns, 40);
}

TEST_F(scheduler_test, while_coroutines_stay_ready_the_poller_runs_every_16th_turn) {
  auto sched = make_scheduler();
  constexpr int turns = 160;
  sched->spawn([] {
    for (int i = 0; i < turns; ++i) this_coroutine::yield();
  });
  sched->run();
  const auto timeouts = fake().timeouts();
  // Never a blocking wait while a coroutine is ready; one non-blocking poll per 16 busy turns.
  for (const auto t : timeouts) EXPECT_EQ(t, 0ns);
  EXPECT_GE(timeouts.size(), static_cast<std::size_t>(turns / 16 - 1));
  EXPECT_LE(timeouts.size(), static_cast<std::size_t>(turns / 16 + 1));
}

// The thread is held past a parked coroutine's deadline after its I/O completed (a long-running
// coroutine here; preemption in life): the completion, there before the deadline, wins.
TEST_F(scheduler_test, a_completion_that_came_before_a_late_deadline_wins_over_it) {
  auto sched = make_scheduler();
  fake_poller& p = fake();
  wake_reason seen = wake_reason::timed_out;
  coroutine* reader = sched->spawn([&] { seen = this_coroutine::park(clock::now() + 10ms); });
  sched->spawn([&] {
    p.complete(reader);                 // the bytes arrive in time...
    std::this_thread::sleep_for(50ms);  // ...but the loop looks only later
  });
  sched->run();
  EXPECT_EQ(seen, wake_reason::woken);
}

TEST_F(scheduler_test, a_timer_ends_the_poll_at_its_deadline) {
  auto sched = make_scheduler();
  wake_reason seen = wake_reason::woken;
  sched->spawn([&] { seen = this_coroutine::park(clock::now() + 30ms); });
  sched->run();
  EXPECT_EQ(seen, wake_reason::timed_out);
  const auto timeouts = fake().timeouts();
  ASSERT_FALSE(timeouts.empty());
  EXPECT_GT(timeouts.front(), 0ns);
  EXPECT_LE(timeouts.front(), 30ms);
}

}  // namespace
}  // namespace echod::runtime
