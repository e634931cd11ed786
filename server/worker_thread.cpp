#include "server/worker_thread.hpp"

#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "server/connection.hpp"

namespace echod::server {

worker_thread::worker_thread(const worker_plan& plan, stats::thread_counters& counters,
                             std::function<void()> on_done)
    : plan_(plan),
      counters_(counters),
      on_done_(std::move(on_done)),
      // Rounded up, at least 1: with 100% eviction starts only when every slot is taken.
      overload_mark_(std::max<std::size_t>(
          1, (std::size_t{plan.cfg.coroutines} * plan.cfg.overload.threshold_percent + 99) / 100)),
      idle_grace_(plan.cfg.overload.idle_grace) {}

void worker_thread::start(runtime::scheduler& sched) {
  sched_ = &sched;
  for (const int fd : plan_.listen_fds) spawn_task([this, fd] { run_acceptor(*this, fd); });
}

void worker_thread::open() {
  opened_ = true;
  for (runtime::coroutine* w : waiting_) sched_->wake(w);
}

void worker_thread::stop_accepting() {
  accepting_ = false;
  // Acceptors not yet running see accepting_ == false when they first check it.
  for (runtime::coroutine* a : acceptors_) sched_->cancel(a);
}

void worker_thread::begin_closing() {
  stop_accepting();
  closing_ = true;
  for (connection* c = connections_; c != nullptr; c = c->next_) c->interrupt_read();
}

void worker_thread::end_connections() {
  ending_ = true;
  for (connection* c = connections_; c != nullptr; c = c->next_) c->interrupt_read();
}

bool worker_thread::reserve_slot() {
  runtime::coroutine* self = runtime::scheduler::current_coroutine();
  while (!opened_ || slots_used_ >= plan_.cfg.coroutines) {
    if (!accepting_ || sched_->cancelled(self)) return false;
    // Full: evict what is idle, and look again when more could be (a slot freed wakes us too).
    const runtime::deadline recheck = opened_ ? shed_idle(slots_used_) : runtime::no_deadline;
    waiting_.push_back(self);
    const runtime::wake_reason why = sched_->park(recheck);
    std::erase(waiting_, self);
    if (why == runtime::wake_reason::cancelled) return false;
  }
  if (!accepting_ || sched_->cancelled(self)) return false;
  ++slots_used_;
  // Nearly full: make room before clients need it. The slot just taken waits for a client that
  // has not arrived; the others are connections (or other listeners' acceptors: close enough).
  shed_idle(slots_used_ - 1);
  return true;
}

runtime::deadline worker_thread::shed_idle(std::size_t taken) {
  if (!plan_.cfg.overload.enabled || taken - shedding_ < overload_mark_) {
    return runtime::no_deadline;
  }
  const runtime::deadline now = runtime::clock::now();
  if (now < next_shed_) return next_shed_;  // nothing can have become idle enough since the last
  std::size_t excess = taken - shedding_ - overload_mark_ + 1;
  // No connection can be idle enough before this, unless one idle now is found.
  runtime::deadline soonest = now + idle_grace_;
  for (connection* c = oldest_; c != nullptr && excess > 0; c = c->prev_) {
    if (c->idle_for(idle_grace_, now)) {
      c->shed();
      ++shedding_;
      --excess;
    } else if (c->reading_ && !c->shed_) {
      soonest = std::min(soonest, c->read_started_ + idle_grace_);
    }
  }
  // Stopped early with enough evicted: more may be idle already, so the next call walks again.
  next_shed_ = excess == 0 ? now : soonest;
  return next_shed_;
}

void worker_thread::release_slot() {
  --slots_used_;
  // Only acceptors wait here, one per listener; each re-checks the count when it runs.
  for (runtime::coroutine* w : waiting_) sched_->wake(w);
}

void worker_thread::spawn_connection(int fd) {
  try {
    spawn_task([this, fd] { serve_connection(*this, fd); });
  } catch (const std::exception& e) {
    ::close(fd);
    release_slot();
    spdlog::error("cannot start a connection coroutine: {}", e.what());
  }
}

void worker_thread::attach(connection& c) {
  c.prev_ = nullptr;
  c.next_ = connections_;
  if (connections_ != nullptr) connections_->prev_ = &c;
  connections_ = &c;
  if (oldest_ == nullptr) oldest_ = &c;
  stats::add(counters_.accepted, 1);
  stats::add(counters_.active, 1);
}

void worker_thread::detach(connection& c) {
  if (c.prev_ != nullptr) c.prev_->next_ = c.next_;
  if (c.next_ != nullptr) c.next_->prev_ = c.prev_;
  if (connections_ == &c) connections_ = c.next_;
  if (oldest_ == &c) oldest_ = c.prev_;
  c.prev_ = c.next_ = nullptr;
  if (c.shed_) --shedding_;
  stats::sub(counters_.active, 1);
  stats::add(counters_.closed, 1);
  release_slot();
}

void worker_thread::spawn_task(std::function<void()> body) {
  ++tasks_;
  try {
    sched_->spawn([this, body = std::move(body)] {
      // Ends the task however the body ends: returns, throws, or is unwound by the scheduler.
      struct ender {
        worker_thread& t;
        ~ender() { t.end_task(); }
      } end{*this};
      body();
    });
  } catch (...) {
    --tasks_;
    throw;
  }
}

void worker_thread::end_task() {
  if (--tasks_ == 0 && on_done_) on_done_();
}

}  // namespace echod::server
