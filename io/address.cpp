#include "io/address.hpp"

#include <arpa/inet.h>

#include "config/host_port.hpp"

namespace echod::io {

int address::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

void address::set_port(int port) {
  const auto p = htons(static_cast<std::uint16_t>(port));
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = p;
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = p;
}

config::result<address> address::parse(std::string_view text) {
  // One grammar for every "host:port" in echod: the one --check-config applies, so a listen
  // address the check passes always binds.
  const auto hp = config::parse_host_port(text);
  if (!hp) return config::failure{hp.error()};
  address a;
  if (hp->ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    inet_pton(AF_INET6, hp->host.c_str(), &in6->sin6_addr);  // canonical: cannot fail
    in6->sin6_family = AF_INET6;
    a.length = sizeof(sockaddr_in6);
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    inet_pton(AF_INET, hp->host.c_str(), &in4->sin_addr);
    in4->sin_family = AF_INET;
    a.length = sizeof(sockaddr_in);
  }
  a.set_port(hp->port);
  return a;
}

std::optional<address> address::local_of(int fd) {
  address a;
  a.length = sizeof a.storage;
  if (getsockname(fd, a.get(), &a.length) != 0) return std::nullopt;
  return a;
}

std::string address::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof text);
    return config::with_port(text, static_cast<std::uint16_t>(port()));
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
    return config::with_port(text, static_cast<std::uint16_t>(port()));
  }
  return "(unknown address family)";
}

}  // namespace echod::io
