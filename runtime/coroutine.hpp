// A coroutine's state as its scheduler keeps it: the suspended fiber, its stack, why it last woke,
// and its links in the run queue, the live list and the timer heap. Only runtime/ includes this;
// everyone else holds an opaque `coroutine*`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include <boost/context/fiber.hpp>

#include "runtime/clock.hpp"
#include "runtime/park.hpp"
#include "runtime/stack_pool.hpp"

namespace echod::runtime {

class coroutine {
 public:
  std::uint64_t id() const { return id_; }

 private:
  friend class scheduler;
  friend class timer_heap;

  enum class state { ready, running, parked, finished };

  std::function<void()> body_;
  boost::context::fiber fiber_;   ///< the coroutine, while it is suspended (empty before it starts)
  boost::context::fiber caller_;  ///< the scheduler, while the coroutine runs
  stack_span stack_;
  void* tsan_fiber_ =
      nullptr;  ///< its ThreadSanitizer context (fiber_switch.hpp); null without TSan
  std::uint64_t id_ = 0;
  state state_ = state::ready;
  wake_reason reason_ = wake_reason::woken;
  bool started_ = false;
  bool cancel_requested_ = false;  ///< sticky: cancelled() stays true, I/O refuses to start
  bool cancel_pending_ = false;    ///< one-shot: the next park() returns `cancelled` at once
  bool interruptible_ = true;      ///< false while in park_pinned(): only wake() resumes it

  /// The deadline of the park in progress (no_deadline when running, ready or parked without
  /// one). The timer heap's entry for this coroutine may be earlier: entries are lazy (scheduler).
  deadline deadline_ = no_deadline;
  std::size_t heap_index_ = npos;  ///< slot in the timer heap, npos when no entry is queued
  coroutine* next_ready_ = nullptr;
  coroutine* prev_live_ = nullptr;
  coroutine* next_live_ = nullptr;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

}  // namespace echod::runtime
