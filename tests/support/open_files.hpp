// Tests that open thousands of sockets raise their own open-file limit instead of relying on the
// shell's (a container build runs them under the default 1024).
#pragma once

#include <sys/resource.h>

namespace echod::testing {

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
inline rlim_t raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return lim.rlim_cur;
}

}  // namespace echod::testing
