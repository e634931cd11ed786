#include "server/cpu_plan.hpp"

#include <sched.h>

#include <algorithm>
#include <string>

namespace echod::server {

std::vector<int> allowed_cpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
    }
  }
  return out;
}

std::vector<int> thread_cpus(const config::server_config& cfg, unsigned worker, unsigned threads,
                             const std::vector<int>& allowed) {
  const std::vector<int>* pool = nullptr;
  if (cfg.cpu_affinity == config::cpu_affinity_mode::automatic) pool = &allowed;
  if (cfg.cpu_affinity == config::cpu_affinity_mode::list) pool = &cfg.cpus;
  if (pool == nullptr || pool->empty()) return {};
  std::vector<int> out;
  out.reserve(threads);
  for (unsigned j = 0; j < threads; ++j) {
    const std::size_t slot = static_cast<std::size_t>(worker) * threads + j;
    out.push_back((*pool)[slot % pool->size()]);
  }
  return out;
}

config::result<void> check_cpus(const config::server_config& cfg, const std::vector<int>& allowed) {
  if (cfg.cpu_affinity != config::cpu_affinity_mode::list) return {};
  for (std::size_t i = 0; i < cfg.cpus.size(); ++i) {
    if (std::find(allowed.begin(), allowed.end(), cfg.cpus[i]) != allowed.end()) continue;
    std::string usable;
    for (const int cpu : allowed) usable += (usable.empty() ? "" : ",") + std::to_string(cpu);
    return config::failure{"cpu_affinity[" + std::to_string(i) + "]: CPU " +
                           std::to_string(cfg.cpus[i]) +
                           " is not available to this process (usable: " + usable + ")"};
  }
  return {};
}

}  // namespace echod::server
