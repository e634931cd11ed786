// Socket addresses: parse "host:port", "[v6]:port", ":port" and "*:port" (config/host_port.hpp's
// grammar, the one the config check uses); format them back. Hosts are numeric (no DNS on the
// data path); "localhost" is accepted as 127.0.0.1.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

#include "config/result.hpp"

namespace echod::io {

struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int port() const;
  void set_port(int port);

  /// Parses "1.2.3.4:80", "[::1]:80", ":80" / "*:80" (all IPv4 interfaces), "localhost:80".
  /// On failure the reason quotes `text` (config::parse_host_port's reasons).
  static config::result<address> parse(std::string_view text);
  /// The address a socket is bound to (getsockname), e.g. to learn an ephemeral port.
  static std::optional<address> local_of(int fd);
  /// "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;
};

}  // namespace echod::io
