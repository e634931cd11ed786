#include "runtime/scheduler.hpp"

#include <cassert>
#include <cstdio>
#include <utility>

#include <boost/context/fiber.hpp>

#include "runtime/coroutine.hpp"
#include "runtime/fiber_switch.hpp"
#include "runtime/stack_overflow.hpp"

namespace echod::runtime {
namespace {

namespace ctx = boost::context;

thread_local scheduler* current_scheduler = nullptr;

// Timer entries are lazy, so that a connection that parks on every message with an idle deadline
// costs no heap operation per message: park() only adds an entry, or moves one earlier, and a
// wake leaves the entry where it is. An entry that comes due finds its coroutine either parked
// with a deadline that has passed (it times out), parked with a later one (the entry goes back in
// at that deadline), or not waiting on it any more (the entry is dropped). Each coroutine has at
// most one entry, so stale ones cost no memory, and at most one early poller wake-up each.

// How many turns in a row may run ready coroutines without looking at I/O. Polling every turn
// instead (1, with io_uring's DEFER_TASKRUN) measured the same (loadtest ratio cases, echod 1 x 1,
// 5 interleaved reps, server CPU/msg 1-vs-16 medians 0.87-1.10 on both backends, all within the
// noise): with one message in flight per connection under 1% of turns end with a coroutine
// ready, so the rule rarely acts; with 16 in flight on epoll 11% do, and it spares them a poll.
constexpr unsigned busy_turns_per_poll = 16;

// Hands Boost.Context a stack the pool already owns; the pool takes it back after the fiber ends.
struct borrowed_stack {
  stack_span span;
  ctx::stack_context allocate() {
    ctx::stack_context sc;
    sc.size = span.size;
    sc.sp = span.top();
    return sc;
  }
  void deallocate(ctx::stack_context&) noexcept {}
};

void print_uncaught(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "echod: a coroutine ended with an uncaught exception: %s\n", ex.what());
  } catch (...) {
    std::fprintf(stderr, "echod: a coroutine ended with an uncaught non-standard exception\n");
  }
}

// Makes `s` the current scheduler for a scope (run() and the destructor both need it).
class current_guard {
 public:
  explicit current_guard(scheduler* s) : saved_(std::exchange(current_scheduler, s)) {}
  ~current_guard() { current_scheduler = saved_; }
  current_guard(const current_guard&) = delete;
  current_guard& operator=(const current_guard&) = delete;

 private:
  scheduler* saved_;
};

}  // namespace

scheduler::scheduler(std::unique_ptr<poller> io, options opts)
    : io_(std::move(io)),
      opts_(std::move(opts)),
      stacks_(opts_.stack_size, opts_.max_cached_stacks) {
  if (!opts_.on_uncaught_exception) opts_.on_uncaught_exception = print_uncaught;
}

scheduler::~scheduler() {
  current_guard guard(this);
  // Coroutines that never ran are dropped without running: destroying a scheduler starts nothing.
  coroutine* ready = std::exchange(ready_head_, nullptr);
  ready_tail_ = nullptr;
  while (ready != nullptr) {
    coroutine* next = ready->next_ready_;
    if (ready->started_) {
      make_ready(ready, ready->reason_);
    } else {
      finish(ready);
    }
    ready = next;
  }
  cancel_all();
  // I/O the cancelled coroutines had in flight ends with -ECANCELED once the kernel lets go.
  // The mailbox stays shut: what others posted could start work on a scheduler being destroyed.
  while (live_ > 0 && (ready_head_ != nullptr || pinned_ > 0)) {
    turn(std::chrono::milliseconds(100), mail::keep);
  }
  while (all_ != nullptr) unwind(all_);
  for (coroutine* c : free_) delete c;
}

scheduler* scheduler::current() { return current_scheduler; }

void scheduler::leave_after_fork() { current_scheduler = nullptr; }

coroutine* scheduler::current_coroutine() {
  return current_scheduler != nullptr ? current_scheduler->running_ : nullptr;
}

coroutine* scheduler::spawn(std::function<void()> body) {
  coroutine* c;
  if (!free_.empty()) {
    c = free_.back();
    free_.pop_back();
  } else {
    c = new coroutine;
  }
  c->stack_ = stacks_.acquire();
  c->tsan_fiber_ = fiber_switch::create();
  c->body_ = std::move(body);
  c->id_ = next_id_++;
  c->started_ = false;
  c->cancel_requested_ = c->cancel_pending_ = false;
  c->interruptible_ = true;
  c->next_live_ = all_;
  c->prev_live_ = nullptr;
  if (all_ != nullptr) all_->prev_live_ = c;
  all_ = c;
  ++live_;
  make_ready(c, wake_reason::woken);
  return c;
}

void scheduler::entry(coroutine* c) {
  fiber_switch::finish(nullptr, &host_stack_bottom_, &host_stack_size_);
  try {
    c->body_();
  } catch (const ctx::detail::forced_unwind&) {
    // The scheduler is destroying this coroutine: our frames are gone, Boost.Context now jumps
    // back to the scheduler. Never swallowed.
    fiber_switch::start(nullptr, host_stack_bottom_, host_stack_size_);
    throw;
  } catch (...) {
    ++uncaught_;
    opts_.on_uncaught_exception(std::current_exception());
  }
  c->body_ = nullptr;  // captured state dies here, on the coroutine's own stack
  c->state_ = coroutine::state::finished;
  fiber_switch::start(nullptr, host_stack_bottom_, host_stack_size_);
}

void scheduler::resume(coroutine* c) {
  // Everything from here to the jump back, on either stack, runs as c for TSan (fiber_switch.hpp).
  const fiber_switch::tsan_fiber host_tsan = fiber_switch::enter(c->tsan_fiber_);
  if (!c->started_) {
    c->started_ = true;
    c->fiber_ =
        ctx::fiber(std::allocator_arg, borrowed_stack{c->stack_}, [this, c](ctx::fiber&& host) {
          c->caller_ = std::move(host);
          entry(c);
          return std::move(c->caller_);
        });
  }
  running_ = c;
  c->state_ = coroutine::state::running;
  set_current_coroutine_stack(c->stack_);
  void* fake_stack = nullptr;
  fiber_switch::start(&fake_stack, c->stack_.base, c->stack_.size);
  c->fiber_ = std::move(c->fiber_).resume();
  fiber_switch::finish(fake_stack, nullptr, nullptr);
  fiber_switch::enter(host_tsan);
  set_current_coroutine_stack({});
  running_ = nullptr;
  if (c->state_ == coroutine::state::finished) finish(c);
}

void scheduler::suspend_current() {
  coroutine* c = running_;
  void* fake_stack = nullptr;
  fiber_switch::start(&fake_stack, host_stack_bottom_, host_stack_size_);
  try {
    c->caller_ = std::move(c->caller_).resume();
  } catch (const ctx::detail::forced_unwind&) {
    fiber_switch::finish(fake_stack, &host_stack_bottom_, &host_stack_size_);
    throw;
  }
  fiber_switch::finish(fake_stack, &host_stack_bottom_, &host_stack_size_);
}

void scheduler::unwind(coroutine* c) {
  // ~fiber throws forced_unwind inside the coroutine: its destructors run on its own stack.
  running_ = c;
  const fiber_switch::tsan_fiber host_tsan = fiber_switch::enter(c->tsan_fiber_);
  set_current_coroutine_stack(c->stack_);
  void* fake_stack = nullptr;
  fiber_switch::start(&fake_stack, c->stack_.base, c->stack_.size);
  c->fiber_ = ctx::fiber();
  fiber_switch::finish(fake_stack, nullptr, nullptr);
  fiber_switch::enter(host_tsan);
  set_current_coroutine_stack({});
  running_ = nullptr;
  finish(c);  // takes it off the timer heap too
}

void scheduler::finish(coroutine* c) {
  timers_.remove(c);
  c->deadline_ = no_deadline;
  if (c->prev_live_ != nullptr) c->prev_live_->next_live_ = c->next_live_;
  if (c->next_live_ != nullptr) c->next_live_->prev_live_ = c->prev_live_;
  if (all_ == c) all_ = c->next_live_;
  c->prev_live_ = c->next_live_ = nullptr;
  c->state_ = coroutine::state::finished;
  c->body_ = nullptr;
  stacks_.release(c->stack_);
  c->stack_ = {};
  // A fresh TSan context per run: a finished fiber's shadow stack still holds its last frames.
  fiber_switch::destroy(std::exchange(c->tsan_fiber_, nullptr));
  --live_;
  free_.push_back(c);
}

void scheduler::make_ready(coroutine* c, wake_reason why) {
  c->deadline_ = no_deadline;  // its timer entry, if any, is now stale (see fire_timers())
  c->reason_ = why;
  c->state_ = coroutine::state::ready;
  c->next_ready_ = nullptr;
  if (ready_tail_ != nullptr) {
    ready_tail_->next_ready_ = c;
  } else {
    ready_head_ = c;
  }
  ready_tail_ = c;
}

void scheduler::run_ready() {
  // Only what is ready now: a coroutine that yields runs again next turn, after I/O is polled.
  coroutine* c = std::exchange(ready_head_, nullptr);
  ready_tail_ = nullptr;
  while (c != nullptr) {
    coroutine* next = c->next_ready_;
    resume(c);
    c = next;
  }
}

bool scheduler::timer_due() const { return !timers_.empty() && timers_.earliest() <= clock::now(); }

void scheduler::fire_timers() {
  if (timers_.empty()) return;
  const deadline now = clock::now();
  while (!timers_.empty() && timers_.earliest() <= now) {
    coroutine* c = timers_.pop();
    if (c->state_ != coroutine::state::parked || c->deadline_ == no_deadline) continue;
    if (c->deadline_ <= now) {
      make_ready(c, wake_reason::timed_out);
    } else {
      timers_.push(c, c->deadline_);  // parked again since, with a later deadline
    }
  }
}

std::chrono::nanoseconds scheduler::poll_timeout() const {
  if (ready_head_ != nullptr || mailbox_ready_.load(std::memory_order_relaxed)) {
    return std::chrono::nanoseconds::zero();
  }
  if (timers_.empty()) return std::chrono::nanoseconds(-1);
  const auto left = timers_.earliest() - clock::now();
  return left > clock::duration::zero() ? std::chrono::duration_cast<std::chrono::nanoseconds>(left)
                                        : std::chrono::nanoseconds::zero();
}

void scheduler::turn(std::chrono::nanoseconds max_wait, mail m) {
  if (m == mail::take && mailbox_ready_.load(std::memory_order_acquire)) drain_mailbox();
  run_ready();
  // A deadline that passed while coroutines ran (or while the thread was off the CPU) fires only
  // after a non-blocking poll: I/O that completed before it then wakes its coroutine first, so a
  // reader whose bytes came in time is not timed out because the loop was late to look.
  if (timer_due()) {
    io_->poll(std::chrono::nanoseconds::zero());
    busy_turns_ = 0;
    fire_timers();
  }
  if (live_ == 0) return;
  // While coroutines are ready, a non-blocking poll is a syscall that mostly finds nothing:
  // poll every few busy turns (I/O waits at most that many turns), and always before sleeping.
  if (ready_head_ != nullptr && ++busy_turns_ < busy_turns_per_poll) return;
  busy_turns_ = 0;
  std::chrono::nanoseconds wait = poll_timeout();
  if (max_wait.count() >= 0 && (wait.count() < 0 || wait > max_wait)) wait = max_wait;
  io_->poll(wait);
  fire_timers();
}

void scheduler::run() {
  current_guard guard(this);
  install_stack_overflow_handler();
  while (live_ > 0) turn(std::chrono::nanoseconds(-1), mail::take);
  if (mailbox_ready_.load(std::memory_order_acquire)) drain_mailbox();
}

std::size_t scheduler::run_until_idle() {
  current_guard guard(this);
  install_stack_overflow_handler();
  do {
    turn(std::chrono::nanoseconds::zero(), mail::take);
  } while (ready_head_ != nullptr);
  return live_;
}

void scheduler::yield() {
  coroutine* c = running_;
  assert(c != nullptr);
  make_ready(c, wake_reason::woken);
  suspend_current();
}

wake_reason scheduler::park(deadline until) {
  coroutine* c = running_;
  assert(c != nullptr && "park() outside a coroutine");
  if (c->cancel_pending_) {
    c->cancel_pending_ = false;
    return wake_reason::cancelled;
  }
  c->state_ = coroutine::state::parked;
  c->interruptible_ = true;
  c->deadline_ = until;
  if (until != no_deadline) timers_.schedule(c, until);
  suspend_current();
  return c->reason_;
}

void scheduler::park_pinned() {
  coroutine* c = running_;
  assert(c != nullptr);
  c->state_ = coroutine::state::parked;
  c->interruptible_ = false;
  ++pinned_;
  suspend_current();
  --pinned_;
  c->interruptible_ = true;
}

wake_reason scheduler::sleep_until(deadline until) {
  for (;;) {
    const wake_reason why = park(until);
    // A stray wake() is not the end of a sleep; the deadline or a cancel is.
    if (why != wake_reason::woken || clock::now() >= until) return why;
  }
}

void scheduler::wake(coroutine* c) {
  if (c->state_ == coroutine::state::parked) make_ready(c, wake_reason::woken);
}

void scheduler::cancel(coroutine* c) {
  if (c->state_ == coroutine::state::finished) return;
  c->cancel_requested_ = true;
  if (c->state_ == coroutine::state::parked && c->interruptible_) {
    make_ready(c, wake_reason::cancelled);
  } else {
    c->cancel_pending_ = true;
  }
}

void scheduler::cancel_all() {
  for (coroutine* c = all_; c != nullptr; c = c->next_live_) cancel(c);
}

void scheduler::expire(coroutine* c) {
  if (c->state_ == coroutine::state::parked && c->interruptible_) {
    make_ready(c, wake_reason::timed_out);
  }
}

bool scheduler::cancelled(const coroutine* c) const { return c != nullptr && c->cancel_requested_; }

void scheduler::post(std::function<void()> fn) {
  // The wake-up too is under the lock: the owner runs `fn` only after taking the lock, and `fn`
  // may be what ends its run() and destroys this scheduler, reactor and eventfd with it. Woken
  // after the unlock, it could close the fd (and a new socket take its number) while we write.
  std::lock_guard lock(mailbox_lock_);
  mailbox_.push_back(std::move(fn));
  mailbox_ready_.store(true, std::memory_order_release);
  io_->interrupt();
}

void scheduler::drain_mailbox() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(mailbox_lock_);
    batch.swap(mailbox_);
    mailbox_ready_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : batch) fn();
}

}  // namespace echod::runtime
