#include "server/master.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/admin_server.hpp"
#include "server/backoff.hpp"
#include "server/cpu_plan.hpp"
#include "server/exit_codes.hpp"
#include "server/listeners.hpp"
#include "server/logging.hpp"
#include "server/machine.hpp"
#include "server/master_state.hpp"
#include "server/pid_file.hpp"
#include "server/process_title.hpp"
#include "server/signals.hpp"
#include "server/socket_activation.hpp"
#include "server/stats.hpp"
#include "server/worker.hpp"

namespace echod::server {
namespace master_detail {

using namespace std::chrono_literals;

void master::start_generation(const config::server_config& cfg, io::backend_kind backend,
                              listener_set::lease lease, gen_state state, bool admin_changes,
                              io::listener admin) {
  generation& g = gens_.emplace_back();
  g.id = next_gen_++;
  g.cfg = cfg;
  g.backend = backend;
  g.listeners = std::move(lease);
  g.state = state;
  g.admin_changes = admin_changes;
  g.admin = std::move(admin);  // before forking: become_worker() closes it
  const unsigned processes = config::resolved_processes(cfg);
  g.workers.resize(processes);
  for (unsigned i = 0; i < processes; ++i) g.workers[i].index = i + 1;
  for (auto& w : g.workers) {
    if (stopping_ || g.state == gen_state::retiring) break;  // a worker could not be created
    fork_worker(g, w);
  }
}

void master::fork_worker(generation& g, worker_proc& w) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return start_failed(g, w, std::string("pipe: ") + std::strerror(errno));
  }
  w.slots = config::resolved_threads(g.cfg);
  w.counters = counters_.allocate(w.slots);
  if (w.counters == nullptr && !warned_counters_) {
    spdlog::warn("the counters region is full: some workers' counters are not shared");
    warned_counters_ = true;
  }
  const pid_t pid = fork();
  if (pid == 0) become_worker(g, w, pipe_fds[1]);
  ::close(pipe_fds[1]);
  if (pid < 0) {
    const int e = errno;
    ::close(pipe_fds[0]);
    counters_.release(w.counters, w.slots);
    w.counters = nullptr;
    return start_failed(g, w, std::string("fork: ") + std::strerror(e));
  }
  w.start_failures = 0;
  w.pid = pid;
  w.started = clock::now();
  w.ready_fd = pipe_fds[0];
  w.ready_waiter = watch_ready(w.ready_fd);
  w.ready = false;
  w.told_to_end = false;
  w.kill_at = never;
  w.respawn_at = never;
  spdlog::info("worker {} (pid {}) started (generation {})", w.index, pid, g.id);
}

void master::start_failed(generation& g, worker_proc& w, const std::string& why) {
  // A worker that has served in this generation is retried for as long as it takes (the others
  // serve meanwhile, as after a crash); one that never has is given up on, like a worker that
  // exits with cannot_start: a generation that cannot be created must not retry forever.
  if (!w.was_ready && ++w.start_failures >= max_start_attempts) {
    const std::string who = "cannot start worker " + std::to_string(w.index) + ": " + why + " (" +
                            std::to_string(w.start_failures) + " attempts)";
    if (g.state == gen_state::starting) return abandon_reload(g, who);
    spdlog::error("{}; giving up: stopping echod", who);
    return begin_stop(exit_code::failure, "a worker cannot start");
  }
  const auto delay = w.backoff.next(0s);
  spdlog::error("cannot start worker {}: {}; retrying in {} ms", w.index, why, delay.count());
  w.respawn_at = clock::now() + delay;
}

void master::become_worker(generation& g, worker_proc& w, int ready_fd) {
  // Only the master's own descriptors go: its loop's (see master_loop.cpp), its signalfd, the
  // admin endpoint's sockets, the upgrade's ready pipe (either end), the other workers' ready
  // pipes, and listeners this generation does
  // not use (a removed address must close when the old workers end, not live on in the new ones).
  io::close_after_fork(reactor());
  ::close(signals_.fd());
  admin_.close_after_fork();
  if (upgrade_.ready_fd >= 0) ::close(upgrade_.ready_fd);
  if (takeover_fd_ >= 0) ::close(takeover_fd_);
  for (auto& other : gens_) {
    if (other.admin.valid()) ::close(other.admin.release());
    for (auto& ow : other.workers) {
      if (ow.ready_fd >= 0) ::close(ow.ready_fd);
    }
  }
  for (const int fd : listeners_.fds()) {
    if (std::find(g.listeners.fds.begin(), g.listeners.fds.end(), fd) == g.listeners.fds.end()) {
      ::close(fd);
    }
  }
  const worker_args args{
      .cfg = g.cfg,
      .index = w.index,
      .generation = g.id,
      .backend = g.backend,
      .listen_fds = g.listeners.fds,
      .cpus = thread_cpus(g.cfg, w.index - 1, config::resolved_threads(g.cfg), allowed_cpus()),
      .counters = w.counters,
      .ready_fd = ready_fd,
      .master = master_pid_,
  };
  std::exit(run_worker(args));
}

void master::on_signal(int sig) {
  switch (sig) {
    case SIGTERM:
    case SIGINT:
    case SIGQUIT:
      if (!stopping_) {
        begin_stop(exit_code::ok, std::string("SIG") + sigabbrev_np(sig));
      } else {
        spdlog::warn("SIG{} again: killing the workers now", sigabbrev_np(sig));
        for (auto& g : gens_) signal_workers(g, SIGKILL, never);
      }
      break;
    case SIGHUP:
      reload();
      break;
    case SIGUSR1:
      spdlog::info("stats: {}", counters_.sum().to_string());
      break;
    case SIGUSR2:
      upgrade();
      break;
    case SIGCHLD:
      reap();
      break;
    default:
      break;
  }
}

void master::reap() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid == upgrade_.pid) on_upgrade_exit(status);
    for (auto& g : gens_) {
      for (auto& w : g.workers) {
        if (w.pid == pid) on_exit(g, w, status);
      }
    }
  }
}

void master::on_exit(generation& g, worker_proc& w, int status) {
  const pid_t pid = w.pid;
  const auto uptime = clock::now() - w.started;
  close_ready_pipe(w);
  counters_.release(w.counters, w.slots);
  w.counters = nullptr;
  w.pid = -1;
  w.ready = false;
  w.kill_at = never;
  const std::string how = describe_wait_status(status);
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == exit_code::ok;
  if (stopping_ || w.told_to_end || g.state == gen_state::retiring) {
    if (clean) {
      spdlog::info("worker {} (pid {}) exited: {}", w.index, pid, how);
    } else {
      spdlog::warn("worker {} (pid {}) exited: {}", w.index, pid, how);
    }
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == exit_code::cannot_start) {
    const std::string who = "worker " + std::to_string(w.index) + " (pid " + std::to_string(pid) +
                            ") cannot start (see its error above)";
    if (g.state == gen_state::starting) {
      abandon_reload(g, who);
    } else {
      spdlog::error("{}; not respawning it in a loop: stopping echod", who);
      begin_stop(exit_code::failure, "a worker cannot start");
    }
    return;
  }
  const auto delay = w.backoff.next(uptime);
  ++restarts_;
  spdlog::warn("worker {} (pid {}) exited: {}; respawning in {} ms", w.index, pid, how,
               delay.count());
  w.respawn_at = clock::now() + delay;
  notify_.status(snapshot());
}

void master::on_ready(generation& g, worker_proc& w) {
  w.ready_waiter = nullptr;  // it has woken: this is its event
  const int got = read_ready_byte(w.ready_fd);
  if (got < 0) {
    w.ready_waiter = watch_ready(w.ready_fd);
    return;
  }
  close_ready_pipe(w);
  if (got == 0) return;  // it died before it was ready: reap() tells the rest
  w.was_ready = true;
  w.ready = true;
  if (g.state == gen_state::serving) {
    const bool all = std::all_of(g.workers.begin(), g.workers.end(),
                                 [](const worker_proc& o) { return o.pid > 0 && o.ready; });
    if (all) all_ready(g);
  }
  if (g.state != gen_state::starting) return;
  for (const auto& other : g.workers) {
    if (!other.was_ready) return;
  }
  promote(g);
}

void master::on_timers() {
  const auto now = clock::now();
  if (upgrade_.pid > 0 && now >= upgrade_.deadline) give_up_upgrade();
  for (auto& g : gens_) {
    for (auto& w : g.workers) {
      if (w.pid > 0 && now >= w.kill_at) {
        spdlog::warn("worker {} (pid {}) has not ended in time; killing it", w.index, w.pid);
        ::kill(w.pid, SIGKILL);
        w.kill_at = never;
      }
      if (w.pid < 0 && now >= w.respawn_at) {
        w.respawn_at = never;
        if (!stopping_ && g.state != gen_state::retiring) fork_worker(g, w);
      }
    }
  }
}

void master::begin_stop(int code, const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = code;
  notify_.stopping(snapshot());
  config::duration longest{0};
  for (const auto& g : gens_) longest = std::max(longest, g.cfg.shutdown_timeout);
  spdlog::info("stopping ({}): telling {} worker{} to finish (at most {} s)", why, live_workers(),
               live_workers() == 1 ? "" : "s", config::to_seconds(longest));
  const auto now = clock::now();
  for (auto& g : gens_) signal_workers(g, SIGTERM, now + g.cfg.shutdown_timeout + stop_margin);
  if (upgrade_.pid > 0 && !handed_over_ && !upgrade_.given_up) {
    spdlog::info("stopping: the upgrade is abandoned: telling the new master (pid {}) to stop",
                 upgrade_.pid);
    ::kill(upgrade_.pid, SIGTERM);
  }
}

void master::signal_workers(generation& g, int sig, clock::time_point kill_at) {
  for (auto& w : g.workers) {
    w.respawn_at = never;
    if (w.pid <= 0) continue;
    ::kill(w.pid, sig);
    w.told_to_end = true;
    w.kill_at = std::min(w.kill_at, kill_at);
  }
}

void master::drop_finished_generations() {
  for (auto it = gens_.begin(); it != gens_.end();) {
    bool alive = false;
    for (const auto& w : it->workers) alive = alive || w.pid > 0;
    const bool done = it->state == gen_state::retiring || stopping_;
    if (done && !alive) {
      if (!stopping_) spdlog::info("generation {} has ended", it->id);
      listeners_.release(it->listeners.keys);
      it = gens_.erase(it);
    } else {
      ++it;
    }
  }
}

std::size_t master::live_workers() const {
  std::size_t n = 0;
  for (const auto& g : gens_) {
    for (const auto& w : g.workers) n += w.pid > 0 ? 1 : 0;
  }
  return n;
}

clock::time_point master::next_deadline() const {
  auto next = upgrade_.pid > 0 ? upgrade_.deadline : never;
  for (const auto& g : gens_) {
    for (const auto& w : g.workers) {
      if (w.pid > 0) next = std::min(next, w.kill_at);
      if (w.pid < 0 && !stopping_) next = std::min(next, w.respawn_at);
    }
  }
  return next;
}

}  // namespace master_detail

using master_detail::master;

config::server_config load_config(const config_source& source) {
  if (source.path.empty()) {
    return config::parse_server_config("{}", "<defaults>", source.overrides);
  }
  return config::load_server_config(source.path, source.overrides);
}

int run_master(const config_source& source, const config::server_config& cfg, own_command self) {
  set_process_title("echod: master");
  init_logging("master", cfg.log_level);
  ignore_signals({SIGPIPE});
  // Blocked now, not when the master's signalfd opens: the pid_file and "listening on" come
  // first, and a reload (SIGHUP) sent as soon as either shows would otherwise end the process.
  block_signals(master_detail::master_signals);

  const auto backend = check_machine(cfg);
  if (!backend) {
    spdlog::error("{}", backend.error());
    return exit_code::usage;
  }
  check_fd_limit(cfg);

  listener_set listeners;
  auto from = take_over(cfg, listeners);  // a binary upgrade's sockets (master_handoff.hpp)
  if (!from) {
    spdlog::error("{}", from.error());
    return exit_code::usage;
  }
  const auto adopted = adopt_inherited_listeners(cfg, listeners);
  if (!adopted) {
    spdlog::error("{}", adopted.error());
    return exit_code::usage;
  }
  auto lease = listeners.acquire(cfg);
  if (!lease) {
    spdlog::error("{}", lease.error());
    return exit_code::failure;
  }

  io::listener admin = std::move(from->admin);
  if (!admin.valid() && !cfg.admin.empty()) {
    auto opened = admin_server::open(cfg.admin);
    if (!opened) {
      spdlog::error("{}", opened.error());
      return exit_code::failure;
    }
    admin = std::move(*opened);
  }

  // After an upgrade the pid_file is written once this master serves (all_ready()): until then
  // the old master's PID is the one to follow.
  pid_file pid;
  if (!cfg.pid_file.empty() && !from->active) {
    auto written = pid_file::write(cfg.pid_file);
    if (!written) {
      spdlog::error("{}", written.error());
      return exit_code::failure;
    }
    pid = std::move(*written);
  }

  spdlog::info("echod {} starting (pid {}): backend {}; config {}", ECHOD_VERSION, getpid(),
               io::describe_backend(*backend), config::to_json_line(cfg));
  if (from->active) spdlog::info("upgrade: taking over from the old master (pid {})", from->from);
  for (const auto& at : from->adopted) spdlog::info("listening on {}", at);
  for (const auto& at : *adopted) spdlog::info("listening on {}", at);
  for (const auto& at : lease->opened) spdlog::info("listening on {}", at);

  // The master's signal_reader blocks its signals before anything is forked: a worker inherits
  // the mask, so a stop that arrives before it has its own signalfd waits instead of killing it.
  std::unique_ptr<master> m;
  try {
    m = std::make_unique<master>(source, std::move(listeners), std::move(admin), cfg.admin,
                                 std::move(pid), std::move(self), *from);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return exit_code::failure;
  }
  return m->run(cfg, *backend, std::move(*lease));
}

}  // namespace echod::server
