// What a config needs from this machine, checked by the master at start and on every reload
// before anything is forked: the backend (io_uring demanded but unavailable is an error, "auto"
// falls back to epoll), the CPUs it pins to, and enough file descriptors (the soft limit is
// raised to the hard one; a limit below threads × coroutines + 64 is a warning, not an error:
// connections beyond it wait in the backlog).
#pragma once

#include "config/server_config.hpp"
#include "io/backend.hpp"

namespace echod::server {

/// The backend `cfg` runs on here, or why it cannot run here.
config::result<io::backend_kind> check_machine(const config::server_config& cfg);

/// Raises RLIMIT_NOFILE's soft limit to the hard limit (once) and warns when it is below what
/// one worker of `cfg` may need.
void check_fd_limit(const config::server_config& cfg);

}  // namespace echod::server
