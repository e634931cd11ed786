// The master process: opens the listeners, forks the workers and supervises them until told to
// stop. It runs on one scheduler thread over epoll (master_loop.cpp), whose coroutines wait on a
// signalfd, the workers' ready pipes, the workers' deadlines and the admin endpoint; signals only
// ever become events in that loop:
//   SIGTERM, SIGINT, SIGQUIT  graceful stop: every worker is told to stop (SIGTERM) and is
//                             killed if still running shutdown_timeout + 1 s later; exit 0.
//                             A second one kills the workers at once.
//   SIGHUP                    reload: re-read the same file with the same --set overrides; on
//                             any error log why and keep the current workers; else open new
//                             listeners, fork a new generation, and once all of it is ready
//                             retire the old one (SIGQUIT: stop accepting, drain, exit).
//   SIGUSR1                   log the summed connection counters.
//   SIGUSR2                   binary upgrade: start the binary at this one's path as a new
//                             master that takes over the listening sockets; once it serves,
//                             retire the workers and exit 0 (master_upgrade.cpp).
//   SIGCHLD                   reap: a worker that died unexpectedly is respawned with back-off;
//                             one that exits with exit_code::cannot_start is not: echod stops
//                             the others and exits 1 (or, during a reload, abandons the reload).
// At start it adopts listeners a service manager passed (socket_activation.hpp) or an upgrading
// master handed over (master_handoff.hpp) and writes the pid_file (pid_file.hpp; after an
// upgrade, once it serves); at the events above it tells the manager (service_manager.hpp).
// It never touches a connection.
#pragma once

#include <string>
#include <vector>

#include "config/server_config.hpp"
#include "server/master_handoff.hpp"

namespace echod::server {

/// Where the config came from, so a reload can read it again the same way.
struct config_source {
  std::string path;                    ///< empty: the built-in defaults ("{}")
  std::vector<std::string> overrides;  ///< --set key=value, in order
};

/// Loads the config `source` describes. Throws config::config_error.
config::server_config load_config(const config_source& source);

/// Runs the master with the already validated `cfg` until it stops; returns the exit code.
/// `self` is what a binary upgrade (SIGUSR2) starts again.
int run_master(const config_source& source, const config::server_config& cfg, own_command self);

}  // namespace echod::server
