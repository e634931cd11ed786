#include "server/machine.hpp"

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include "io/fd_limit.hpp"
#include "server/cpu_plan.hpp"

namespace echod::server {
namespace {

// Descriptors a worker needs besides its connections: listeners, reactors, eventfds, stdio.
constexpr rlim_t fd_overhead = 64;

}  // namespace

config::result<io::backend_kind> check_machine(const config::server_config& cfg) {
  const auto resolved = io::resolve_backend(cfg.backend);
  if (!resolved) return resolved;
  if (const auto pinnable = check_cpus(cfg, allowed_cpus()); !pinnable) {
    return config::failure{pinnable.error()};
  }
  return resolved;
}

void check_fd_limit(const config::server_config& cfg) {
  const auto limits = io::raise_fd_limit();
  if (!limits) return;
  const rlimit rl = *limits;
  const rlim_t need =
      static_cast<rlim_t>(config::resolved_threads(cfg)) * cfg.coroutines + fd_overhead;
  if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
    spdlog::warn(
        "the file descriptor limit ({}) is below threads x coroutines + {} = {}: a worker may run "
        "out of descriptors before it reaches its connection capacity (raise the hard limit, "
        "e.g. ulimit -Hn or LimitNOFILE=, or lower coroutines)",
        static_cast<unsigned long long>(rl.rlim_cur), static_cast<unsigned long long>(fd_overhead),
        static_cast<unsigned long long>(need));
  }
}

}  // namespace echod::server
