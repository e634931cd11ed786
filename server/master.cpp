#include "server/master.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/admin_server.hpp"
#include "server/backoff.hpp"
#include "server/cpu_plan.hpp"
#include "server/exit_codes.hpp"
#include "server/listeners.hpp"
#include "server/logging.hpp"
#include "server/machine.hpp"
#include "server/process_title.hpp"
#include "server/signals.hpp"
#include "server/stats.hpp"
#include "server/worker.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
constexpr auto never = clock::time_point::max();

// Room for two full generations (old one retiring, new one serving) at the largest config.
constexpr std::size_t counter_slots = 2 * 256 * 256;
// A worker told to end gets this long beyond its own deadline before SIGKILL.
constexpr auto stop_margin = 1s;
constexpr auto retire_margin = 2s;

clock::duration seconds(double s) {
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

long long to_ms(clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

struct worker_proc {
  unsigned index = 1;  // 1-based
  pid_t pid = -1;      // -1: not running
  clock::time_point started{};
  int ready_fd = -1;       // read end of the worker's ready pipe, until it reports
  bool was_ready = false;  // this index has served at least once in its generation
  bool ready = false;      // this process has reported ready (was_ready survives a respawn)
  bool told_to_end = false;
  stats::thread_counters* counters = nullptr;
  std::size_t slots = 0;
  respawn_backoff backoff;
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
  bool admin_changes = false;  // promoting it moves the admin endpoint to `admin` (or off)
  io::listener admin;          // opened by the reload, served once promoted; workers close it
};

class master {
 public:
  master(config_source source, listener_set listeners, io::listener admin, std::string admin_spec)
      : source_(std::move(source)),
        listeners_(std::move(listeners)),
        signals_({SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD}),
        counters_(counter_slots),
        admin_([this] { return snapshot(); }),
        admin_spec_(std::move(admin_spec)),
        master_pid_(getpid()) {
    admin_.serve(std::move(admin));
  }

  int run(const config::server_config& cfg, io::backend_kind backend, listener_set::lease lease);

 private:
  // `admin_changes`: promoting it moves the admin endpoint to `admin` (invalid: off).
  void start_generation(const config::server_config& cfg, io::backend_kind backend,
                        listener_set::lease lease, gen_state state, bool admin_changes = false,
                        io::listener admin = {});
  void fork_worker(generation& g, worker_proc& w);
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
  void drop_finished_generations();
  std::size_t live_workers() const;
  clock::time_point next_deadline() const;
  generation* starting_generation();

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
  pid_t master_pid_;
  unsigned next_gen_ = 1;
  bool stopping_ = false;
  bool reload_again_ = false;
  bool warned_counters_ = false;
  int exit_code_ = exit_code::ok;
};

int master::run(const config::server_config& cfg, io::backend_kind backend,
                listener_set::lease lease) {
  start_generation(cfg, backend, std::move(lease), gen_state::serving);
  std::vector<pollfd> fds;
  std::vector<std::pair<generation*, worker_proc*>> owners;
  while (!(stopping_ && live_workers() == 0)) {
    fds.assign(1, pollfd{signals_.fd(), POLLIN, 0});
    owners.assign(1, {nullptr, nullptr});
    for (auto& g : gens_) {
      for (auto& w : g.workers) {
        if (w.ready_fd < 0) continue;
        fds.push_back(pollfd{w.ready_fd, POLLIN, 0});
        owners.emplace_back(&g, &w);
      }
    }
    const std::size_t admin_first = fds.size();
    admin_.add_pollfds(fds);
    const auto deadline = std::min(next_deadline(), admin_.next_deadline());
    int timeout = -1;
    if (deadline != never) {
      timeout = static_cast<int>(
          std::max<long long>(0, to_ms(deadline - clock::now() + 999us)));  // round up
    }
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(10ms);
    }
    while (const auto sig = signals_.next()) on_signal(*sig);
    for (std::size_t i = 1; i < admin_first; ++i) {
      if (fds[i].revents != 0 && owners[i].second->ready_fd == fds[i].fd) {
        on_ready(*owners[i].first, *owners[i].second);
      }
    }
    on_timers();
    drop_finished_generations();
    admin_.handle(std::span(fds).subspan(admin_first));  // last: it reports the state just made
  }
  spdlog::info("stats: {}", counters_.sum().to_string());
  spdlog::info("stopped");
  return exit_code_;
}

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
  for (auto& w : g.workers) fork_worker(g, w);
}

void master::fork_worker(generation& g, worker_proc& w) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const auto delay = w.backoff.next(0s);
    spdlog::error("cannot start worker {}: pipe: {}; retrying in {} ms", w.index,
                  std::strerror(errno), delay.count());
    w.respawn_at = clock::now() + delay;
    return;
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
    const auto delay = w.backoff.next(0s);
    spdlog::error("cannot start worker {}: fork: {}; retrying in {} ms", w.index, std::strerror(e),
                  delay.count());
    w.respawn_at = clock::now() + delay;
    return;
  }
  w.pid = pid;
  w.started = clock::now();
  w.ready_fd = pipe_fds[0];
  w.ready = false;
  w.told_to_end = false;
  w.kill_at = never;
  w.respawn_at = never;
  spdlog::info("worker {} (pid {}) started (generation {})", w.index, pid, g.id);
}

void master::become_worker(generation& g, worker_proc& w, int ready_fd) {
  // Only the master's own descriptors go: its signalfd, the admin endpoint's sockets, the other
  // workers' ready pipes, and listeners this generation does not use (a removed address must
  // close when the old workers end, not live on in the new ones).
  ::close(signals_.fd());
  admin_.close_after_fork();
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
  worker_args args;
  args.index = w.index;
  args.generation = g.id;
  args.cfg = g.cfg;
  args.backend = g.backend;
  args.listen_fds = g.listeners.fds;
  args.cpus = thread_cpus(g.cfg, w.index - 1, config::resolved_threads(g.cfg), allowed_cpus());
  args.counters = w.counters;
  args.ready_fd = ready_fd;
  args.master = master_pid_;
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
        for (auto& g : gens_) {
          for (auto& w : g.workers) {
            if (w.pid > 0) ::kill(w.pid, SIGKILL);
          }
        }
      }
      break;
    case SIGHUP:
      reload();
      break;
    case SIGUSR1:
      spdlog::info("stats: {}", counters_.sum().to_string());
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
  if (w.ready_fd >= 0) {
    ::close(w.ready_fd);
    w.ready_fd = -1;
  }
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
}

void master::on_ready(generation& g, worker_proc& w) {
  char byte = 0;
  const ssize_t n = ::read(w.ready_fd, &byte, 1);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  ::close(w.ready_fd);
  w.ready_fd = -1;
  if (n != 1) return;  // it died before it was ready: reap() tells the rest
  w.was_ready = true;
  w.ready = true;
  if (g.state != gen_state::starting) return;
  for (const auto& other : g.workers) {
    if (!other.was_ready) return;
  }
  promote(g);
}

void master::on_timers() {
  const auto now = clock::now();
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

generation* master::starting_generation() {
  for (auto& g : gens_) {
    if (g.state == gen_state::starting) return &g;
  }
  return nullptr;
}

void master::reload() {
  if (stopping_) return;
  if (starting_generation() != nullptr) {
    spdlog::info("SIGHUP during a reload: will reload again once the new workers are ready");
    reload_again_ = true;
    return;
  }
  const std::string from = source_.path.empty() ? "the built-in defaults" : source_.path;
  spdlog::info("reload (SIGHUP): reading {}", from);
  config::server_config cfg;
  try {
    cfg = load_config(source_);
  } catch (const config::config_error& e) {
    return reload_failed(e.what());
  }
  std::string why;
  const auto backend = check_machine(cfg, &why);
  if (!backend) return reload_failed(why);
  // A new admin address is bound now, like a new listen address, and served once the new
  // generation is: a reload either applies all of the new config or none of it.
  const bool admin_changes = !admin_server::same_address(admin_spec_, cfg.admin);
  io::listener admin;
  if (admin_changes && !cfg.admin.empty()) {
    admin = admin_server::open(cfg.admin, why);
    if (!admin.valid()) return reload_failed(why);
  }
  listener_set::lease lease;
  try {
    lease = listeners_.acquire(cfg);
  } catch (const std::system_error& e) {
    return reload_failed(e.what());
  }
  set_log_level(cfg.log_level);
  check_fd_limit(cfg);
  spdlog::info("reload: starting generation {}: backend {}; config {}", next_gen_,
               io::describe_backend(*backend), compact_json(cfg));
  for (const auto& at : lease.opened) spdlog::info("listening on {}", at);
  start_generation(cfg, *backend, std::move(lease), gen_state::starting, admin_changes,
                   std::move(admin));
}

void master::reload_failed(const std::string& why) {
  ++reload_failures_;
  spdlog::error("reload failed: {}; keeping the current config", why);
}

void master::promote(generation& g) {
  for (auto& old : gens_) {
    if (&old != &g && old.state == gen_state::serving) retire(old);
  }
  g.state = gen_state::serving;
  ++reloads_;
  if (g.admin_changes) {
    admin_spec_ = g.cfg.admin;
    admin_.serve(std::move(g.admin));
  }
  spdlog::info("reload complete: generation {} serving with {} worker{}", g.id, g.workers.size(),
               g.workers.size() == 1 ? "" : "s");
  if (reload_again_) {
    reload_again_ = false;
    reload();
  }
}

void master::abandon_reload(generation& g, const std::string& why) {
  reload_failed(why);
  g.admin.close();
  // Its other workers may already hold connections: they retire like any old generation.
  retire(g);
  if (reload_again_) {
    reload_again_ = false;
    reload();
  }
}

void master::retire(generation& g) {
  g.state = gen_state::retiring;
  const auto kill_at =
      clock::now() + seconds(g.cfg.shutdown_timeout) + retire_closing_grace + retire_margin;
  for (auto& w : g.workers) {
    w.respawn_at = never;
    if (w.pid <= 0) continue;
    ::kill(w.pid, SIGQUIT);
    w.told_to_end = true;
    w.kill_at = kill_at;
  }
  spdlog::info("retiring generation {}: its workers finish their connections (at most {} s)", g.id,
               g.cfg.shutdown_timeout);
}

void master::begin_stop(int code, const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = code;
  double longest = 0;
  for (const auto& g : gens_) longest = std::max(longest, g.cfg.shutdown_timeout);
  spdlog::info("stopping ({}): telling {} worker{} to finish (at most {} s)", why, live_workers(),
               live_workers() == 1 ? "" : "s", longest);
  const auto now = clock::now();
  for (auto& g : gens_) {
    for (auto& w : g.workers) {
      w.respawn_at = never;
      if (w.pid <= 0) continue;
      ::kill(w.pid, SIGTERM);
      w.told_to_end = true;
      w.kill_at = std::min(w.kill_at, now + seconds(g.cfg.shutdown_timeout) + stop_margin);
    }
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

master_snapshot master::snapshot() const {
  master_snapshot s;
  s.totals = counters_.sum();
  s.version = ECHOD_VERSION;
  s.start_time = start_time_;
  s.uptime = std::chrono::duration<double>(clock::now() - started_).count();
  s.workers_running = static_cast<unsigned>(live_workers());
  s.worker_restarts = restarts_;
  s.reloads = reloads_;
  s.reloads_failed = reload_failures_;
  const auto serving = std::find_if(gens_.begin(), gens_.end(), [](const generation& g) {
    return g.state == gen_state::serving;
  });
  if (serving != gens_.end()) {
    s.service = serving->cfg.service;
    s.backend = io::backend_name(serving->backend);
    s.generation = serving->id;
    s.workers_wanted = static_cast<unsigned>(serving->workers.size());
    for (const auto& w : serving->workers) s.workers_ready += w.pid > 0 && w.ready ? 1 : 0;
  }
  if (stopping_) {
    s.unhealthy = "stopping";
  } else if (serving == gens_.end()) {
    s.unhealthy = "no generation is serving";
  } else if (s.workers_ready < s.workers_wanted) {
    s.unhealthy = std::to_string(s.workers_ready) + " of " + std::to_string(s.workers_wanted) +
                  " workers ready";
  }
  return s;
}

std::size_t master::live_workers() const {
  std::size_t n = 0;
  for (const auto& g : gens_) {
    for (const auto& w : g.workers) n += w.pid > 0 ? 1 : 0;
  }
  return n;
}

clock::time_point master::next_deadline() const {
  auto next = never;
  for (const auto& g : gens_) {
    for (const auto& w : g.workers) {
      if (w.pid > 0) next = std::min(next, w.kill_at);
      if (w.pid < 0 && !stopping_) next = std::min(next, w.respawn_at);
    }
  }
  return next;
}

}  // namespace

config::server_config load_config(const config_source& source) {
  if (source.path.empty()) {
    return config::parse_server_config("{}", "<defaults>", source.overrides);
  }
  return config::load_server_config(source.path, source.overrides);
}

int run_master(const config_source& source, const config::server_config& cfg) {
  set_process_title("echod: master");
  init_logging("master", cfg.log_level);
  ignore_signals({SIGPIPE});

  std::string why;
  const auto backend = check_machine(cfg, &why);
  if (!backend) {
    spdlog::error("{}", why);
    return exit_code::usage;
  }
  check_fd_limit(cfg);

  listener_set listeners;
  listener_set::lease lease;
  try {
    lease = listeners.acquire(cfg);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return exit_code::failure;
  }

  io::listener admin;
  if (!cfg.admin.empty()) {
    admin = admin_server::open(cfg.admin, why);
    if (!admin.valid()) {
      spdlog::error("{}", why);
      return exit_code::failure;
    }
  }

  spdlog::info("echod {} starting (pid {}): backend {}; config {}", ECHOD_VERSION, getpid(),
               io::describe_backend(*backend), compact_json(cfg));
  for (const auto& at : lease.opened) spdlog::info("listening on {}", at);

  // Block the signals before forking: a worker inherits the mask, so a stop that arrives before
  // it has set up its own signalfd waits for it instead of killing it.
  block_signals({SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGCHLD});
  std::unique_ptr<master> m;
  try {
    m = std::make_unique<master>(source, std::move(listeners), std::move(admin), cfg.admin);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return exit_code::failure;
  }
  return m->run(cfg, *backend, std::move(lease));
}

}  // namespace echod::server
