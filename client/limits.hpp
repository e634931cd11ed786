// The operating-system limits a big run meets, checked before it starts so the user reads one
// clear sentence instead of thousands of failed connects: open files (RLIMIT_NOFILE, raised
// from the soft to the hard limit first) and local ports (net.ipv4.ip_local_port_range, one per
// connection per source address).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "config/result.hpp"

namespace echod::client {

struct port_range {
  unsigned low = 0;
  unsigned high = 0;
  unsigned size() const { return high >= low ? high - low + 1 : 0; }
};

/// Raises the soft open-file limit to the hard one, then checks that `connections` sockets
/// plus `reserve` other files fit. Fails, when they do not, with the reason, e.g. "10000
/// connections need 10000 open files (plus 20 for echoload itself); the limit here is 1024
/// (ulimit -n) ...".
config::result<void> check_open_files(std::size_t connections, std::size_t reserve);

/// net.ipv4.ip_local_port_range, or nullopt when it cannot be read.
std::optional<port_range> local_port_range();

/// Passes when `connections` fit in the ephemeral ports of `sources` source addresses (0: the
/// kernel's choice, one address), or when the range cannot be read; else fails with why not and
/// what to do (--source).
config::result<void> check_local_ports(std::size_t connections, std::size_t sources);

/// The hint printed when connects fail with EADDRNOTAVAIL.
std::string ports_exhausted_hint();

}  // namespace echod::client
