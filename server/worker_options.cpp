#include "server/worker_options.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace echod::server {

worker_options make_worker_options(const config::server_config& cfg, std::vector<int> listen_fds,
                                   std::vector<int> cpus) {
  worker_options o;
  const unsigned threads = config::resolved_threads(cfg);

  o.pool.threads = threads;
  o.pool.thread_name = "echod-sched";
  o.pool.cpus = std::move(cpus);
  o.pool.per_thread.stack_size = cfg.stack_size;
  // A stack per connection and acceptor, and one for the odd extra coroutine.
  o.pool.per_thread.max_cached_stacks =
      std::min<std::size_t>(cfg.coroutines + listen_fds.size() + 1, 1024);

  o.reactor.ring_entries = cfg.io_uring_entries;
  o.reactor.buffer_size = cfg.buffer_size;
  // Enough to absorb bursts without going to malloc; spare buffers beyond it are freed.
  o.reactor.cached_buffers = std::min<std::size_t>(cfg.coroutines, 64);
  o.reactor.multishot = cfg.io_uring_multishot;
  o.reactor.recv_bundles = cfg.io_uring_recv_bundles;
  o.reactor.ring_buffers = cfg.io_uring_buffers;
  o.reactor.ring_buffer_size = cfg.io_uring_buffer_size;

  worker_plan& p = o.plan;
  p.limits.capacity = cfg.coroutines;
  p.limits.shed_idle = cfg.overload.enabled;
  // Rounded up, at least 1: with 100% eviction starts only when every slot is taken.
  p.limits.shed_mark = std::max<std::size_t>(
      1, (std::size_t{cfg.coroutines} * cfg.overload.threshold_percent + 99) / 100);
  p.limits.idle_grace = cfg.overload.idle_grace;
  // One process of one thread: the only acceptor (io_uring may keep a multishot accept armed).
  p.acceptors = config::resolved_processes(cfg) == 1 && threads == 1 ? io::acceptors::one
                                                                     : io::acceptors::many;
  p.connection.idle_timeout = cfg.idle_timeout;
  p.connection.tcp_nodelay = cfg.tcp_nodelay;
  p.svc = &find_service(cfg.service);
  http_options& http = p.svc_options.http;
  http.limits.max_header_bytes = static_cast<std::size_t>(cfg.http.max_header_bytes);
  http.limits.max_body_bytes = static_cast<std::size_t>(cfg.http.max_body_bytes);
  http.header_timeout = cfg.http.header_timeout;
  http.body_timeout = cfg.http.body_timeout;
  http.body_min_rate = cfg.http.body_min_rate;
  http.keepalive_timeout = cfg.http.keepalive_timeout;
  p.listen_fds = std::move(listen_fds);

  o.shutdown_timeout = cfg.shutdown_timeout;
  return o;
}

}  // namespace echod::server
