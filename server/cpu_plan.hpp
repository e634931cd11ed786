// Where scheduler threads run (config field cpu_affinity): which CPU each thread of each worker is
// pinned to, and whether the CPUs a config lists exist here. The config layer checks the syntax
// only (machine-independent); this is the check against the machine, done by the master at start
// and on reload. Pinning itself is done by runtime::scheduler_pool.
#pragma once

#include <vector>

#include "config/result.hpp"
#include "config/server_config.hpp"

namespace echod::server {

/// The CPUs this process may run on (sched_getaffinity), ascending: what "auto" spreads over.
std::vector<int> allowed_cpus();

/// One CPU per thread of worker `worker` (0-based), `threads` entries, or empty for no pinning.
/// "auto": thread j of worker i gets allowed[(i*threads + j) % allowed.size()];
/// a list: cpus[(i*threads + j) % cpus.size()].
std::vector<int> thread_cpus(const config::server_config& cfg, unsigned worker, unsigned threads,
                             const std::vector<int>& allowed);

/// Whether `cfg` can be pinned here; fails on a listed CPU this process may not use.
config::result<void> check_cpus(const config::server_config& cfg, const std::vector<int>& allowed);

}  // namespace echod::server
