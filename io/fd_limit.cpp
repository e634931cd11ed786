#include "io/fd_limit.hpp"

#include <fstream>

namespace echod::io {
namespace {

rlim_t nr_open() {
  std::ifstream f("/proc/sys/fs/nr_open");
  unsigned long long n = 0;
  if (f >> n && n > 0) return static_cast<rlim_t>(n);
  return 1 << 20;  // the kernel's default fs.nr_open
}

}  // namespace

std::optional<rlimit> raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return std::nullopt;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl;
}

}  // namespace echod::io
