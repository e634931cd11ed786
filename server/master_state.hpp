// The master's private state, shared by master.cpp (workers, signals, stop), master_loop.cpp
// (its scheduler: the waits and where events run) and master_reload.cpp (reload, retire, the
// admin snapshot): worker processes grouped in generations, and the master class that owns them.
// Not for use outside the master.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <list>
#include <string>
#include <vector>

#include "config/server_config.hpp"
#include "io/backend.hpp"
#include "io/reactor_epoll.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"
#include "server/admin_server.hpp"
#include "server/backoff.hpp"
#include "server/exit_codes.hpp"
#include "server/listeners.hpp"
#include "server/master.hpp"
#include "server/master_handoff.hpp"
#include "server/metrics.hpp"
#include "server/pid_file.hpp"
#include "server/service_manager.hpp"
#include "server/signals.hpp"
#include "server/stats.hpp"

namespace echod::server::master_detail {

// The signals the master reads from its signalfd (see master_loop.cpp).
inline constexpr std::initializer_list<int> master_signals{SIGTERM, SIGINT,  SIGQUIT, SIGHUP,
                                                           SIGUSR1, SIGUSR2, SIGCHLD};

using clock = std::chrono::steady_clock;
constexpr auto never = clock::time_point::max();

// Room for two full generations (old one retiring, new one serving) at the largest config.
constexpr std::size_t counter_slots = 2 * 256 * 256;
// A worker told to end gets this long beyond its own deadline before SIGKILL.
constexpr std::chrono::seconds stop_margin{1};
constexpr std::chrono::seconds retire_margin{2};
// Tries to create a worker (its ready pipe, then fork) before echod gives up on one that has
// never been ready: about 1.5 s of back-off, enough to ride out a brief EMFILE or EAGAIN.
constexpr unsigned max_start_attempts = 5;

inline long long to_ms(clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

struct worker_proc {
  unsigned index = 1;  // 1-based
  pid_t pid = -1;      // -1: not running
  clock::time_point started{};
  int ready_fd = -1;  // read end of the worker's ready pipe, until it reports
  runtime::coroutine* ready_waiter = nullptr;  // parked on ready_fd (watch_ready)
  bool was_ready = false;  // this index has served at least once in its generation
  bool ready = false;      // this process has reported ready (was_ready survives a respawn)
  bool told_to_end = false;
  stats::thread_counters* counters = nullptr;
  std::size_t slots = 0;
  respawn_backoff backoff;
  unsigned start_failures = 0;           // pipe or fork failures in a row
  clock::time_point respawn_at = never;  // while pid == -1
  clock::time_point kill_at = never;     // SIGKILL then, unless it has exited
};

enum class gen_state {
  starting,  // forked by a reload; the old generation serves until all of this one is ready
  serving,
  retiring,  // told to end (retire or stop); removed when its last worker is gone
};

struct generation {
  unsigned id = 1;
  config::server_config cfg;
  io::backend_kind backend = io::backend_kind::epoll;
  listener_set::lease listeners;
  std::vector<worker_proc> workers;
  gen_state state = gen_state::serving;
  bool admin_changes = false;     // promoting it moves the admin endpoint to `admin` (or off)
  io::listener admin;             // opened by the reload, served once promoted; workers close it
  bool pid_file_changes = false;  // promoting it moves the PID file to `pid` (empty: none)
  server::pid_file pid;           // written by the reload, kept once promoted
};

// The old master's side of an upgrade in flight (master_upgrade.cpp).
struct upgrade_state {
  pid_t pid = -1;     // the new master, until reaped
  int ready_fd = -1;  // read end of its ready pipe
  runtime::coroutine* ready_waiter = nullptr;
  config::duration timeout{};          // upgrade_timeout
  clock::time_point deadline = never;  // `timeout` after its start
  bool given_up = false;               // killed for missing the deadline
};

class master {
 public:
  master(config_source source, listener_set listeners, io::listener admin, std::string admin_spec,
         server::pid_file pid, own_command self, const takeover& from)
      : source_(std::move(source)),
        listeners_(std::move(listeners)),
        signals_(master_signals),
        counters_(counter_slots),
        admin_(sched_, [this] { return snapshot(); }),
        admin_spec_(std::move(admin_spec)),
        pid_file_(std::move(pid)),
        master_pid_(getpid()),
        self_(std::move(self)),
        takeover_fd_(from.ready_fd),
        takeover_from_(from.from) {
    admin_.serve(std::move(admin));
  }

  int run(const config::server_config& cfg, io::backend_kind backend, listener_set::lease lease);

 private:
  // ---- master_loop.cpp: the coroutines, which only wait, and the events they hand over ----
  void watch_signals();
  void watch_deadlines();
  // Starts a coroutine that waits for a byte (or EOF) on `fd`, a ready pipe, then runs `event`
  // (given that coroutine, to tell whose pipe it was) between turns.
  runtime::coroutine* watch_pipe(int fd, std::function<void(runtime::coroutine*)> event);
  // watch_pipe() on a worker's ready pipe.
  runtime::coroutine* watch_ready(int fd);
  // From a coroutine: runs `event` on the scheduler's own stack and parks until it has run.
  // False: the master is stopping (the coroutine should end).
  bool on_host(std::function<void()> event);
  // After every event: drops finished generations, ends the loop once stopping is complete,
  // and lets watch_deadlines() see the deadlines the event changed.
  void settle();
  void close_ready_pipe(worker_proc& w);
  // Cancels the pipe's waiter, if any, and closes it.
  void close_pipe(int& fd, runtime::coroutine*& waiter);
  // Reads the byte of a woken ready pipe: 1 (ready), 0 (end of file: the writer is gone or
  // closed it unready), or -1 (nothing after all: wait again).
  static int read_ready_byte(int fd);
  io::reactor& reactor() { return static_cast<io::reactor&>(sched_.io()); }

  // ---- master.cpp and master_reload.cpp: the events ----
  // `admin_changes`: promoting it moves the admin endpoint to `admin` (invalid: off).
  void start_generation(const config::server_config& cfg, io::backend_kind backend,
                        listener_set::lease lease, gen_state state, bool admin_changes = false,
                        io::listener admin = {});
  void fork_worker(generation& g, worker_proc& w);
  // A failed pipe or fork: retry later, or give up on a worker that has never been ready.
  void start_failed(generation& g, worker_proc& w, const std::string& why);
  [[noreturn]] void become_worker(generation& g, worker_proc& w, int ready_fd);
  void on_signal(int sig);
  void reap();
  void on_exit(generation& g, worker_proc& w, int status);
  void on_ready(generation& g, worker_proc& w);
  void on_timers();
  void reload();
  void reload_failed(const std::string& why);
  master_snapshot snapshot() const;
  void promote(generation& g);
  void abandon_reload(generation& g, const std::string& why);
  void retire(generation& g);
  void begin_stop(int code, const std::string& why);
  // Tells every worker of `g` to end: sends `sig`, marks it told, never respawns it, and moves its
  // SIGKILL deadline to `kill_at` if that is sooner (nginx's ngx_signal_worker_processes).
  void signal_workers(generation& g, int sig, clock::time_point kill_at);
  void drop_finished_generations();
  std::size_t live_workers() const;
  clock::time_point next_deadline() const;
  generation* starting_generation();
  const generation* serving_generation() const;

  // ---- master_upgrade.cpp: the binary upgrade (SIGUSR2); the old master's side ----
  void upgrade();
  void watch_upgrade();  // watch_pipe() on the new master's ready pipe
  void on_upgrade_ready();
  void on_upgrade_exit(int status);
  // Logs why the upgrade failed; this master serves on.
  void upgrade_failed(const std::string& why);
  // The deadline passed: kill the new master (reap() hears of it).
  void give_up_upgrade();
  // The new master serves: retire every generation, hand the admin endpoint and the manager's
  // attention over, and exit once the workers have ended.
  void hand_over();
  // ... and the new master's side: `g`, the serving generation, has every worker ready.
  void all_ready(generation& g);

  config_source source_;
  listener_set listeners_;
  signal_reader signals_;
  stats::region counters_;
  admin_server admin_;
  std::string admin_spec_;  // the `admin` value admin_ serves
  const clock::time_point started_ = clock::now();
  const double start_time_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::uint64_t restarts_ = 0, reloads_ = 0, reload_failures_ = 0;
  std::list<generation> gens_;  // oldest first; list: workers are referenced across calls
  service_manager notify_;      // sd_notify: told at the events below, never polled
  server::pid_file pid_file_;
  pid_t master_pid_;
  own_command self_;  // what SIGUSR2 starts
  upgrade_state upgrade_;
  bool handed_over_ = false;  // an upgrade completed: retiring, then exiting
  int takeover_fd_ = -1;      // started by an upgrade: the old master's ready pipe, until written
  pid_t takeover_from_ = -1;
  unsigned next_gen_ = 1;
  bool stopping_ = false;
  bool reload_again_ = false;
  bool warned_counters_ = false;
  int exit_code_ = exit_code::ok;
  bool done_ = false;  // stopping is complete: the coroutines are cancelled, the loop ends
  runtime::coroutine* deadlines_ = nullptr;  // watch_deadlines()
  bool deadlines_idle_ = false;              // ... parked until the next deadline
  // Last, so that it is destroyed first: unwinding a coroutine may touch the members above.
  // One thread over epoll, whatever backend the workers use. admin_ holds it before it is built
  // and uses it only from the constructor's body on.
  runtime::scheduler sched_{io::make_epoll_reactor(), runtime::scheduler::options{}};
};

}  // namespace echod::server::master_detail
