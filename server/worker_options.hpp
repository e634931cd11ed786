// What a worker's components need from the config, built once when the worker starts. This is the
// only place below the master that reads config::server_config: each component is handed its own
// narrow struct and never sees the whole config.
//   scheduler threads     runtime::scheduler_pool::options   (threads, stacks, CPUs)
//   receive buffers       io::reactor_options                 (buffer pool, io_uring ring)
//   connection limits     connection_limits                   (worker_thread, its acceptors)
//   deadlines, socket     connection_options                  (connection)
//   the service           service + service_options           (services.cpp)
// So config's buffer_size reaches the buffer pool in three hops: parse_server_config() sets it,
// make_worker_options() copies it into io::reactor_options, make_reactor() gives it to the pool.
#pragma once

#include <vector>

#include "config/server_config.hpp"
#include "io/backend.hpp"
#include "runtime/clock.hpp"
#include "runtime/scheduler_pool.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {

struct worker_options {
  runtime::scheduler_pool::options pool;        ///< on_uncaught_exception is the worker's to set
  io::reactor_options reactor;                  ///< counters are per thread: the worker sets them
  worker_plan plan;                             ///< shared by every worker_thread
  runtime::clock::duration shutdown_timeout{};  ///< the worker's own stop and retire deadline
};

/// The options of a worker of `cfg` serving `listen_fds`, its threads pinned to `cpus` (one per
/// thread, or empty: no pinning).
worker_options make_worker_options(const config::server_config& cfg, std::vector<int> listen_fds,
                                   std::vector<int> cpus);

}  // namespace echod::server
