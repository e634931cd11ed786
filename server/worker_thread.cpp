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
      registry_(counters, [this](connection& c) { left(c); }) {}

void worker_thread::start(runtime::scheduler& sched) {
  sched_ = &sched;
  for (const int fd : plan_.listen_fds) {
    acceptors_.push_back(sched.spawn([this, fd] {
      // Ends the acceptor however it ends: returns, throws, or is unwound by the scheduler.
      struct ender {
        worker_thread& t;
        runtime::coroutine* self;
        ~ender() {
          std::erase(t.acceptors_, self);
          t.end_if_done();
        }
      } end{*this, runtime::scheduler::current_coroutine()};
      run_acceptor(*this, fd);
    }));
  }
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
  registry_.for_each([](connection& c) { c.interrupt_read(); });
}

void worker_thread::end_connections() {
  ending_ = true;
  registry_.for_each([](connection& c) { c.interrupt_read(); });
}

bool worker_thread::reserve_slot() {
  runtime::coroutine* self = runtime::scheduler::current_coroutine();
  while (!opened_ || slots_taken() >= plan_.limits.capacity) {
    if (!accepting_ || sched_->cancelled(self)) return false;
    // Full: evict what is idle, and look again when more could be (a slot freed wakes us too).
    const runtime::deadline recheck = opened_ ? shed_idle(slots_taken()) : runtime::no_deadline;
    waiting_.push_back(self);
    const runtime::wake_reason why = sched_->park(recheck);
    std::erase(waiting_, self);
    if (why == runtime::wake_reason::cancelled) return false;
  }
  if (!accepting_ || sched_->cancelled(self)) return false;
  ++reserved_;
  // Nearly full: make room before clients need it. The slot just taken waits for a client that
  // has not arrived; the others are connections (or other listeners' acceptors: close enough).
  shed_idle(slots_taken() - 1);
  return true;
}

runtime::deadline worker_thread::shed_idle(std::size_t taken) {
  const connection_limits& limits = plan_.limits;
  if (!limits.shed_idle || taken - shedding_ < limits.shed_mark) return runtime::no_deadline;
  const runtime::deadline now = runtime::clock::now();
  if (now < next_shed_) return next_shed_;  // nothing can have become idle enough since the last
  std::size_t excess = taken - shedding_ - limits.shed_mark + 1;
  // No connection can be idle enough before this, unless one idle now is found.
  runtime::deadline soonest = now + limits.idle_grace;
  registry_.for_each_oldest_first([&](connection& c) {
    const runtime::deadline since = c.idle_since();
    if (since == runtime::no_deadline) return true;  // busy, or already being shed
    if (now - since >= limits.idle_grace) {
      c.shed();
      ++shedding_;
      --excess;
    } else {
      soonest = std::min(soonest, since + limits.idle_grace);
    }
    return excess > 0;
  });
  // Stopped early with enough evicted: more may be idle already, so the next call walks again.
  next_shed_ = excess == 0 ? now : soonest;
  return next_shed_;
}

void worker_thread::release_slot() {
  --reserved_;
  // Only acceptors wait here, one per listener; each re-checks the count when it runs.
  for (runtime::coroutine* w : waiting_) sched_->wake(w);
}

void worker_thread::spawn_connection(int fd) {
  try {
    sched_->spawn([this, fd] {
      --reserved_;  // the slot passes to the connection (registered before anything can park)
      connection::serve(*this, fd);
    });
  } catch (const std::exception& e) {
    ::close(fd);
    release_slot();
    spdlog::error("cannot start a connection coroutine: {}", e.what());
  }
}

void worker_thread::left(connection& c) {
  if (c.being_shed()) --shedding_;
  for (runtime::coroutine* w : waiting_) sched_->wake(w);
  end_if_done();
}

void worker_thread::end_if_done() {
  if (acceptors_.empty() && reserved_ == 0 && registry_.count() == 0 && on_done_) on_done_();
}

}  // namespace echod::server
