// A per-thread scheduler of stackful coroutines: a FIFO run queue, a timer heap, a mailbox for
// other threads, and a poller (the I/O backend) to wait on. One loop turn: run every ready
// coroutine, fire due timers, then let the poller submit queued I/O and wait for completions or
// the next deadline; while coroutines stay ready the poller runs only every 16th turn (and always
// before sleeping). Not thread-safe except post(), which goes through the mailbox.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/clock.hpp"
#include "runtime/park.hpp"
#include "runtime/poller.hpp"
#include "runtime/stack_pool.hpp"
#include "runtime/timer_heap.hpp"

namespace echod::runtime {

class coroutine;

class scheduler {
 public:
  struct options {
    std::size_t stack_size = 64 * 1024;  ///< usable bytes per coroutine stack
    std::size_t max_cached_stacks = 1024;
    /// Called (on the scheduler thread) with an exception that escaped a coroutine; that coroutine
    /// ends, the others go on. Default: a line on stderr.
    std::function<void(std::exception_ptr)> on_uncaught_exception;
  };

  scheduler(std::unique_ptr<poller> io, options opts);
  explicit scheduler(std::unique_ptr<poller> io) : scheduler(std::move(io), options{}) {}
  /// Drops coroutines that never started, cancels the rest and runs until none is ready and no
  /// kernel I/O still points into a coroutine's stack, then unwinds (forced_unwind) whatever is
  /// still suspended, so destructors on coroutine stacks run.
  ~scheduler();
  scheduler(const scheduler&) = delete;
  scheduler& operator=(const scheduler&) = delete;

  /// The scheduler running on this thread, or nullptr outside run().
  static scheduler* current();
  /// The coroutine running on this thread, or nullptr on the scheduler's own stack.
  static coroutine* current_coroutine();
  /// In a child forked between turns of this thread's run() (a task posted to the mailbox may
  /// fork): the child never goes back into that loop, yet it is still inside run(), so current()
  /// would go on naming the parent's scheduler, whose poller the child must not use. This makes
  /// no scheduler current; a scheduler the child runs then is the only one current() names, and
  /// none is once that run() returns. The parent's scheduler object is left as it is.
  static void leave_after_fork();

  /// Starts `body` as a new coroutine (it first runs on a later turn). The handle stays valid until
  /// the coroutine finishes.
  coroutine* spawn(std::function<void()> body);

  /// Runs until no coroutine is left.
  void run();
  /// Runs turns (without blocking in the poller) until no coroutine is ready; returns the number
  /// still alive. For embedding the loop, and for tests.
  std::size_t run_until_idle();

  // ---- from inside a coroutine of this scheduler ----

  /// Lets every other ready coroutine run first.
  void yield();
  /// The one way to wait: suspends until wake(), the deadline, or cancel(), and says which.
  wake_reason park(deadline until = no_deadline);
  /// Suspends until wake() only: no deadline, deaf to cancel. For waiting until the kernel lets go
  /// of memory on this coroutine's stack; nothing else should use it.
  void park_pinned();
  wake_reason sleep_until(deadline until);
  wake_reason sleep_for(clock::duration d) { return sleep_until(clock::now() + d); }

  // ---- from this scheduler's thread ----

  /// Makes a parked coroutine ready with reason `woken`; no-op if it is not parked.
  void wake(coroutine* c);
  /// Cancels `c`: its current interruptible park (or else its next one) returns `cancelled`, and
  /// cancelled(c) stays true, so I/O it starts later fails with -ECANCELED. Cooperative: the
  /// coroutine decides how to end.
  void cancel(coroutine* c);
  void cancel_all();
  bool cancelled(const coroutine* c) const;
  /// Ends `c`'s current interruptible park now with `timed_out`, as if its deadline had passed;
  /// no-op if it is not parked, or parked deaf (park_pinned). Unlike cancel() nothing sticks: a
  /// way to make one wait give up early (e.g. a read, when the server starts closing).
  void expire(coroutine* c);

  // ---- from any thread ----

  /// Runs `fn` on this scheduler's thread during a coming turn, waking the poller if it sleeps.
  void post(std::function<void()> fn);

  poller& io() { return *io_; }
  std::size_t live() const { return live_; }
  std::uint64_t uncaught_exceptions() const { return uncaught_; }
  const options& opts() const { return opts_; }

 private:
  void resume(coroutine* c);
  void suspend_current();
  void make_ready(coroutine* c, wake_reason why);
  enum class mail { take, keep };
  /// One loop turn, the only one (run, run_until_idle and the destructor differ only in its
  /// arguments): the mailbox (unless kept shut), every ready coroutine, due timers, then the
  /// poller (skipped on all but every 16th turn in a row that ends with coroutines ready),
  /// waiting at most `max_wait` (negative: until the next timer or I/O; never while a
  /// coroutine is ready), and the timers that came due meanwhile.
  void turn(std::chrono::nanoseconds max_wait, mail m);
  void run_ready();
  bool timer_due() const;
  void fire_timers();
  void drain_mailbox();
  void finish(coroutine* c);
  std::chrono::nanoseconds poll_timeout() const;
  void unwind(coroutine* c);
  void entry(coroutine* c);

  std::unique_ptr<poller> io_;
  options opts_;
  stack_pool stacks_;
  timer_heap timers_;
  coroutine* ready_head_ = nullptr;
  coroutine* ready_tail_ = nullptr;
  coroutine* all_ = nullptr;  ///< every live coroutine, doubly linked, for cancel_all()
  coroutine* running_ = nullptr;
  std::vector<coroutine*> free_;  ///< finished coroutine objects, reused by spawn()
  std::size_t live_ = 0;
  std::size_t pinned_ = 0;
  unsigned busy_turns_ = 0;  ///< turns in a row that ended with coroutines ready, unpolled
  std::uint64_t next_id_ = 1;
  std::uint64_t uncaught_ = 0;
  const void* host_stack_bottom_ = nullptr;  ///< the thread's own stack, for ASan's fiber hooks
  std::size_t host_stack_size_ = 0;

  std::mutex mailbox_lock_;
  std::vector<std::function<void()>> mailbox_;
  std::atomic<bool> mailbox_ready_{false};
};

namespace this_coroutine {
/// Shorthands for the current scheduler's members, for use inside a coroutine.
inline void yield() { scheduler::current()->yield(); }
inline wake_reason sleep_for(clock::duration d) { return scheduler::current()->sleep_for(d); }
inline wake_reason park(deadline until = no_deadline) { return scheduler::current()->park(until); }
inline bool cancelled() { return scheduler::current()->cancelled(scheduler::current_coroutine()); }
}  // namespace this_coroutine

}  // namespace echod::runtime
