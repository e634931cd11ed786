// Syntax check of "host:port" addresses in config files ("0.0.0.0:7007", "[::1]:7007", ":7007",
// "*:7007", "localhost:7007"), so --check-config catches a typo without opening a socket.
// Numeric hosts only (inet_pton), no DNS. The one grammar for host:port in echod:
// io::address::parse reads this and builds the socket address from it (config/ must not depend on
// io/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/result.hpp"

namespace echod::config {

struct host_port {
  /// Canonical numeric host: "0.0.0.0" for "" and "*", "127.0.0.1" for "localhost", IPv6 in
  /// inet_ntop's form without brackets ("::1").
  std::string host;
  std::uint16_t port = 0;
  bool ipv6 = false;

  /// "0.0.0.0:7007" or "[::1]:7007": equal for addresses that bind the same socket, so callers
  /// can find duplicates written differently (":7007" and "0.0.0.0:7007").
  std::string canonical() const;
};

/// "host:port", with `host` in brackets when it is an IPv6 address not yet in them ("[::1]:0").
std::string with_port(std::string_view host, std::uint16_t port);

/// Parses `text`; on failure the reason quotes `text`, e.g. `expected "host:port" (e.g.
/// "0.0.0.0:7007" or "[::1]:7007"), got "foo"`. Port 0 (ephemeral) is accepted.
result<host_port> parse_host_port(std::string_view text);

}  // namespace echod::config
