// The master's loop: one scheduler thread over epoll (master_state.hpp's sched_). Its coroutines
// only wait: for the signalfd, for each worker's ready pipe, for the next worker deadline; the
// admin endpoint's acceptor and connections are coroutines of the same scheduler
// (admin_server.hpp). What a wait ends in (a signal, a ready worker, a deadline) runs on the
// scheduler's own stack, between turns, through its mailbox (on_host), never on a coroutine's:
//
// Why: those events fork. A child forked inside a coroutine would go on, as the new worker, on a
// 64 KiB coroutine stack, inside the master's scheduler (which still counts it as running), with
// the master's scheduler still current on its thread. Forked on the scheduler's own stack, the
// child runs the worker on the thread's full-size stack and never returns into the master's loop
// (become_worker ends in exit), and it closes the master's epoll and wake descriptors
// (io::close_after_fork), so nothing of that loop lives on in a worker. It also keeps every
// change of the master's state in one place, between turns: the coroutines only read it (the
// admin snapshot), so none of them sees a generation or worker vanish under it.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <utility>

#include <spdlog/spdlog.h>

#include "server/master_state.hpp"

namespace echod::server::master_detail {

int master::run(const config::server_config& cfg, io::backend_kind backend,
                listener_set::lease lease) {
  start_generation(cfg, backend, std::move(lease), gen_state::serving);
  sched_.spawn([this] { watch_signals(); });
  deadlines_ = sched_.spawn([this] { watch_deadlines(); });
  settle();  // the first workers may have failed to start already
  sched_.run();
  spdlog::info("stats: {}", counters_.sum().to_string());
  spdlog::info("stopped");
  return exit_code_;
}

void master::watch_signals() {
  while (reactor().wait_readable(signals_.fd(), runtime::no_deadline) == 0) {
    if (!on_host([this] {
          while (const auto sig = signals_.next()) on_signal(*sig);
        })) {
      break;
    }
  }
  reactor().forget(signals_.fd());
}

void master::watch_deadlines() {
  for (;;) {
    const auto next = next_deadline();
    deadlines_idle_ = true;
    const auto why = sched_.park(next == never ? runtime::no_deadline : next);
    deadlines_idle_ = false;
    if (why == runtime::wake_reason::cancelled) break;
    // Woken: settle() says the deadlines changed; look again.
    if (why == runtime::wake_reason::timed_out && !on_host([this] { on_timers(); })) break;
  }
  deadlines_ = nullptr;
}

runtime::coroutine* master::watch_pipe(int fd, std::function<void(runtime::coroutine*)> event) {
  return sched_.spawn([this, fd, event = std::move(event)] {
    runtime::coroutine* self = runtime::scheduler::current_coroutine();
    if (reactor().wait_readable(fd, runtime::no_deadline) != 0) return;  // cancelled
    on_host([self, &event] { event(self); });  // this coroutine, and `event`, live until it ran
  });
}

runtime::coroutine* master::watch_ready(int fd) {
  // The worker is found by its waiter, not kept: it may have exited (close_ready_pipe then
  // cleared its waiter) or its generation may have ended before the event runs.
  return watch_pipe(fd, [this](runtime::coroutine* self) {
    for (auto& g : gens_) {
      for (auto& w : g.workers) {
        if (w.ready_waiter == self) return on_ready(g, w);
      }
    }
  });
}

int master::read_ready_byte(int fd) {
  char byte = 0;
  const ssize_t n = ::read(fd, &byte, 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return -1;
  return n == 1 ? 1 : 0;
}

bool master::on_host(std::function<void()> event) {
  runtime::coroutine* self = runtime::scheduler::current_coroutine();
  // Only events cancel (settle() once stopping is complete), and they run between turns: a
  // coroutine not cancelled now stays alive, parked, until `event` has run and woken it.
  if (sched_.cancelled(self)) return false;
  sched_.post([this, self, event = std::move(event)] {
    if (!done_) {
      event();
      settle();
    }
    sched_.wake(self);
  });
  return sched_.park() != runtime::wake_reason::cancelled;
}

void master::settle() {
  drop_finished_generations();
  if ((stopping_ || handed_over_) && live_workers() == 0) {
    done_ = true;
    sched_.cancel_all();  // the watchers and the admin endpoint end; run() returns
    return;
  }
  if (deadlines_ != nullptr && deadlines_idle_) sched_.wake(deadlines_);
}

void master::close_ready_pipe(worker_proc& w) { close_pipe(w.ready_fd, w.ready_waiter); }

void master::close_pipe(int& fd, runtime::coroutine*& waiter) {
  if (fd < 0) return;
  // Its waiter, if any, is parked on the pipe or about to run: cancelled, it ends without
  // touching the descriptor, and before any coroutine started since could wait on its number.
  if (waiter != nullptr) sched_.cancel(std::exchange(waiter, nullptr));
  reactor().forget(fd);
  ::close(std::exchange(fd, -1));
}

}  // namespace echod::server::master_detail
