// A worker process: T scheduler threads (runtime::scheduler_pool), each with its own reactor,
// acceptors on the inherited listeners and up to `coroutines` connections; its main thread (a
// scheduler of its own over epoll, as the master's) only waits for signals from the master and
// enforces the deadlines of the two ways a worker ends:
//   SIGTERM (stop): close every connection politely (worker_thread "closing"); after
//                   shutdown_timeout stop reading the busy ones, let each answer what it has read
//                   and end with FIN ("ending"), cancel whatever is left 0.5 s later, exit 0.
//   SIGQUIT (retire, on reload): stop accepting now, serve open connections until their clients
//                   close; after shutdown_timeout close the rest as on stop (+1 s), exit 0.
// Startup failures (a reactor or a thread that cannot be created) exit with
// exit_code::cannot_start, which the master does not respawn. The worker tells the master it is
// serving by writing one byte to `ready_fd`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

#include "config/server_config.hpp"
#include "io/backend.hpp"
#include "server/stats.hpp"

namespace echod::server {

/// After a retire's shutdown_timeout, how long the polite close of what is left may take.
inline constexpr std::chrono::seconds retire_closing_grace{1};

/// What the master hands a worker it forked. The worker reads `cfg` once, at start, to build its
/// components' options (worker_options.hpp); nothing below it sees the config.
struct worker_args {
  const config::server_config& cfg;  ///< the generation's, inherited with the master's memory
  unsigned index = 1;                ///< 1-based, as logs and process titles show it
  unsigned generation = 1;
  io::backend_kind backend = io::backend_kind::epoll;  ///< resolved, never `automatic`
  std::vector<int> listen_fds;
  std::vector<int> cpus;                       ///< one per thread, or empty: no pinning
  stats::thread_counters* counters = nullptr;  ///< one slot per thread, or nullptr: not shared
  int ready_fd = -1;
  pid_t master = 0;
};

/// Runs a worker in a freshly forked child until it is told to end; returns its exit code.
int run_worker(const worker_args& args);

}  // namespace echod::server
