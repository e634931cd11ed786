// Socket activation (sd_listen_fds(3), systemd's echod.socket): the listening sockets a service
// manager passed in (LISTEN_FDS, LISTEN_PID, from fd 3 on) are matched to the config's `listen`
// addresses by their bound address (getsockname) and handed to the listener_set, so acquire()
// serves on them instead of binding. A reload keeps them like any socket whose address it still
// lists. Each inherited socket must match one `listen` entry with a fixed port (port 0 names no
// particular socket); a `listen` address with no inherited socket is bound as usual.
#pragma once

#include <string>
#include <vector>

#include "config/result.hpp"
#include "config/server_config.hpp"
#include "server/listeners.hpp"

namespace echod::server {

/// Adopts the inherited listening sockets into `listeners` (made non-blocking) and returns one
/// log-ready description per socket: "127.0.0.1:7007 (adopted fd 3 from the service manager)".
/// Without LISTEN_FDS for this process, adopts nothing. The LISTEN_* variables are removed, so
/// workers and reloads never see them. On an inherited socket that is not a listening TCP socket,
/// or that no `listen` address names, adopts nothing and the reason names it: "inherited socket
/// fd 4 (127.0.0.1:9000): no listen address names it (listen: 127.0.0.1:7007)".
config::result<std::vector<std::string>> adopt_inherited_listeners(const config::server_config& cfg,
                                                                   listener_set& listeners);

}  // namespace echod::server
