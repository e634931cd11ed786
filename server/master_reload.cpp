// The master's reloads (SIGHUP): start a generation with the new config, promote it once all of
// it is ready (retiring the old one), or abandon it; and the snapshot the admin endpoint reports.
#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>

#include "server/logging.hpp"
#include "server/machine.hpp"
#include "server/master_state.hpp"
#include "server/worker.hpp"

namespace echod::server::master_detail {

generation* master::starting_generation() {
  for (auto& g : gens_) {
    if (g.state == gen_state::starting) return &g;
  }
  return nullptr;
}

const generation* master::serving_generation() const {
  for (const auto& g : gens_) {
    if (g.state == gen_state::serving) return &g;
  }
  return nullptr;
}

void master::reload() {
  if (stopping_) return;
  if (handed_over_) {
    spdlog::warn("SIGHUP ignored: this master has handed over to a new one (upgrade)");
    return;
  }
  if (starting_generation() != nullptr) {
    spdlog::info("SIGHUP during a reload: will reload again once the new workers are ready");
    reload_again_ = true;
    return;
  }
  notify_.reloading(snapshot());
  const std::string from = source_.path.empty() ? "the built-in defaults" : source_.path;
  spdlog::info("reload (SIGHUP): reading {}", from);
  // Everything up to the fork may fail, for any reason, with any exception: whatever the file
  // holds, a reload either starts a generation or logs why not, and the current one serves on.
  // The fork stays outside: a child must never return into this catch.
  config::server_config cfg;
  std::optional<io::backend_kind> backend;
  bool admin_changes = false;
  io::listener admin;
  pid_file pid;
  listener_set::lease lease;
  try {
    cfg = load_config(source_);
    const auto machine = check_machine(cfg);
    if (!machine) return reload_failed(machine.error());
    backend = *machine;
    // A new admin address is bound now, like a new listen address, and served once the new
    // generation is: a reload either applies all of the new config or none of it.
    admin_changes = !admin_server::same_address(admin_spec_, cfg.admin);
    if (admin_changes && !cfg.admin.empty()) {
      auto opened = admin_server::open(cfg.admin);
      if (!opened) return reload_failed(opened.error());
      admin = std::move(*opened);
    }
    // A new pid_file is written now too; the old one goes once the new generation serves.
    if (cfg.pid_file != pid_file_.path() && !cfg.pid_file.empty()) {
      auto written = pid_file::write(cfg.pid_file);
      if (!written) return reload_failed(written.error());
      pid = std::move(*written);
    }
    auto acquired = listeners_.acquire(cfg);
    if (!acquired) return reload_failed(acquired.error());
    lease = std::move(*acquired);
  } catch (const std::exception& e) {
    return reload_failed(e.what());
  }
  set_log_level(cfg.log_level);
  check_fd_limit(cfg);
  spdlog::info("reload: starting generation {}: backend {}; config {}", next_gen_,
               io::describe_backend(*backend), config::to_json_line(cfg));
  for (const auto& at : lease.opened) spdlog::info("listening on {}", at);
  const bool pid_file_changes = cfg.pid_file != pid_file_.path();
  start_generation(cfg, *backend, std::move(lease), gen_state::starting, admin_changes,
                   std::move(admin));
  generation& g = gens_.back();
  if (g.state != gen_state::starting) return;  // abandoned already: `pid` goes with this scope
  g.pid_file_changes = pid_file_changes;
  g.pid = std::move(pid);
}

void master::reload_failed(const std::string& why) {
  ++reload_failures_;
  spdlog::error("reload failed: {}; keeping the current config", why);
  notify_.reload_failed(snapshot());
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
  if (g.pid_file_changes) pid_file_ = std::move(g.pid);  // removes the old file
  spdlog::info("reload complete: generation {} serving with {} worker{}", g.id, g.workers.size(),
               g.workers.size() == 1 ? "" : "s");
  notify_.ready(snapshot());
  if (reload_again_) {
    reload_again_ = false;
    reload();
  }
}

void master::abandon_reload(generation& g, const std::string& why) {
  reload_failed(why);
  g.admin.close();
  g.pid = {};  // removes the file this reload wrote
  // Its other workers may already hold connections: they retire like any old generation.
  retire(g);
  if (reload_again_) {
    reload_again_ = false;
    reload();
  }
}

void master::retire(generation& g) {
  g.state = gen_state::retiring;
  signal_workers(g, SIGQUIT,
                 clock::now() + g.cfg.shutdown_timeout + retire_closing_grace + retire_margin);
  spdlog::info("retiring generation {}: its workers finish their connections (at most {} s)", g.id,
               config::to_seconds(g.cfg.shutdown_timeout));
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
  const generation* serving = serving_generation();
  if (serving != nullptr) {
    s.service = config::name_of(serving->cfg.service);
    s.backend = io::backend_name(serving->backend);
    s.generation = serving->id;
    s.workers_wanted = static_cast<unsigned>(serving->workers.size());
    for (const auto& w : serving->workers) s.workers_ready += w.pid > 0 && w.ready ? 1 : 0;
  }
  if (stopping_) {
    s.unhealthy = "stopping";
  } else if (serving == nullptr) {
    s.unhealthy = "no generation is serving";
  } else if (s.workers_ready < s.workers_wanted) {
    s.unhealthy = std::to_string(s.workers_ready) + " of " + std::to_string(s.workers_wanted) +
                  " workers ready";
  }
  return s;
}

}  // namespace echod::server::master_detail
