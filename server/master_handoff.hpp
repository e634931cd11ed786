// A binary upgrade's hand-off (SIGUSR2, master_upgrade.cpp): the descriptors an old master passes
// to the new master it starts, and how the new master takes them. They are inherited at their own
// numbers, named by one environment variable:
//   ECHOD_UPGRADE_FDS=3=listen:127.0.0.1:7007#0,4=admin:127.0.0.1:7008,9=ready
//     listen:KEY   a listening socket, KEY as listener_set::keys_of() names it
//     admin:SPEC   the admin endpoint's socket, SPEC the `admin` value it was opened for
//     ready        a pipe: the new master writes one byte to it once its workers serve
// Why not systemd's LISTEN_FDS: LISTEN_PID must be the new process's own PID, known only after
// the fork, and that convention names a socket by its bound address, which cannot tell a port-0
// listener (the new master must serve the same ephemeral port) nor the admin socket, and has no
// place for the ready pipe. A socket the service manager passes and no address names is an error
// (socket_activation.hpp); one the new config no longer lists is simply closed here. Both can
// arrive at once: an echod started by echod.socket upgrades like any other.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "config/result.hpp"
#include "config/server_config.hpp"
#include "io/socket.hpp"
#include "server/listeners.hpp"

namespace echod::server {

inline constexpr char upgrade_fds_variable[] = "ECHOD_UPGRADE_FDS";

/// How this process was started, so that an upgrade starts the same path with the same arguments.
struct own_command {
  std::string path;               ///< absolute
  std::vector<std::string> args;  ///< argv, argv[0] included
};

/// Captured in main(), before anything rewrites argv. The path is argv[0] made absolute against
/// the working directory when it holds a '/': a path, symlinks kept, so a new build renamed onto
/// it, or a symlink pointed elsewhere, is what an upgrade runs (nginx execs its argv[0] too).
/// Otherwise (found through PATH) it is /proc/self/exe as resolved now, before any upgrade can
/// replace the file.
own_command capture_own_command(int argc, char** argv);

/// One inherited descriptor and its name ("listen:KEY", "admin:SPEC" or "ready").
struct handoff_fd {
  int fd = -1;
  std::string name;
};
/// The value of ECHOD_UPGRADE_FDS for `fds`.
std::string encode_handoff(const std::vector<handoff_fd>& fds);

/// What a master started by an upgrade takes from its predecessor.
struct takeover {
  bool active = false;  ///< ECHOD_UPGRADE_FDS was set: started by an upgrade
  pid_t from = -1;      ///< the old master (this process's parent)
  int ready_fd = -1;    ///< written, then closed, once this master's workers serve
  io::listener admin;   ///< the old admin socket, when `admin` still names the same address
  std::vector<std::string> adopted;  ///< "127.0.0.1:7007 (from the old master, pid 41)"
};

/// Reads and removes ECHOD_UPGRADE_FDS (workers and later upgrades never see it). Adopts each
/// inherited listening socket whose key `cfg` still lists into `listeners`, keeps the admin
/// socket when `cfg.admin` names the same address, and closes the others, saying so in the log.
/// All inherited descriptors get FD_CLOEXEC. Without the variable: inactive, nothing adopted.
/// A malformed value, a descriptor that is not open, or a socket that is not listening is an
/// error naming the entry: "ECHOD_UPGRADE_FDS: 3=listen:127.0.0.1:7007#0: not a listening TCP
/// socket".
config::result<takeover> take_over(const config::server_config& cfg, listener_set& listeners);

}  // namespace echod::server
