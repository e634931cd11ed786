// A poller with no I/O behind it, so the scheduler is tested without io/ (runtime/poller.hpp is
// its only dependency on I/O). It behaves as a real one does at its edges: poll() blocks until
// its timeout, an interrupt() or a completion; interrupt() is sticky until the next poll; and a
// completion the test asks for wakes the parked coroutine, as a finished read would. It records
// every timeout the scheduler asked for, and lets a test wait (on an event, not a sleep) until
// the loop is blocked in it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/poller.hpp"
#include "runtime/scheduler.hpp"

namespace echod::testing {

class fake_poller final : public runtime::poller {
 public:
  void poll(std::chrono::nanoseconds timeout) override {
    std::vector<runtime::coroutine*> done;
    {
      std::unique_lock lock(mutex_);
      timeouts_.push_back(timeout);
      const auto ready = [this] { return interrupted_ || !completions_.empty(); };
      if (timeout != std::chrono::nanoseconds::zero() && !ready()) {
        blocked_ = true;
        changed_.notify_all();
        if (timeout < std::chrono::nanoseconds::zero()) {
          changed_.wait(lock, ready);
        } else {
          changed_.wait_for(lock, timeout, ready);
        }
        blocked_ = false;
      }
      interrupted_ = false;
      done.swap(completions_);
    }
    for (runtime::coroutine* c : done) runtime::scheduler::current()->wake(c);
  }

  void interrupt() override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    ++interrupts_;
    changed_.notify_all();
  }

  /// From any thread: the next poll wakes `c` (parked), as a real poller wakes the coroutine
  /// whose operation completed. Like a real completion, it also ends a poll that is blocked.
  void complete(runtime::coroutine* c) {
    std::lock_guard lock(mutex_);
    completions_.push_back(c);
    changed_.notify_all();
  }

  /// From another thread: returns once the loop is blocked in poll() (or the deadline passes;
  /// false then).
  bool wait_until_blocked(std::chrono::nanoseconds limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [this] { return blocked_; });
  }

  /// The timeouts poll() was called with, in order.
  std::vector<std::chrono::nanoseconds> timeouts() const {
    std::lock_guard lock(mutex_);
    return timeouts_;
  }
  std::size_t interrupts() const {
    std::lock_guard lock(mutex_);
    return interrupts_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<runtime::coroutine*> completions_;
  std::vector<std::chrono::nanoseconds> timeouts_;
  std::size_t interrupts_ = 0;
  bool interrupted_ = false;
  bool blocked_ = false;
};

/// A test that builds its schedulers on a fake_poller it can reach.
class fake_poller_test : public ::testing::Test {
 protected:
  std::unique_ptr<runtime::scheduler> make_scheduler(runtime::scheduler::options opts = {}) {
    auto p = std::make_unique<fake_poller>();
    poller_ = p.get();
    return std::make_unique<runtime::scheduler>(std::move(p), std::move(opts));
  }

  /// Runs `body` as the first coroutine of a fresh scheduler, until every coroutine finished.
  void run(std::function<void()> body, runtime::scheduler::options opts = {}) {
    auto sched = make_scheduler(std::move(opts));
    sched->spawn(std::move(body));
    sched->run();
  }

  /// The poller of the last scheduler make_scheduler() built; it lives as long as that one.
  fake_poller& fake() { return *poller_; }

 private:
  fake_poller* poller_ = nullptr;
};

}  // namespace echod::testing
