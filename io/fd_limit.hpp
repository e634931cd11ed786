// The open-file limit: echod's workers and echoload both hold one descriptor per connection, so
// each raises its soft RLIMIT_NOFILE as far as the hard limit allows before it starts.
#pragma once

#include <sys/resource.h>

#include <optional>

namespace echod::io {

/// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard limit is
/// RLIM_INFINITY: the kernel refuses an infinite soft limit for files) and returns the limits
/// now in force, or nullopt when getrlimit fails. A refused raise keeps the old limits.
std::optional<rlimit> raise_fd_limit();

}  // namespace echod::io
