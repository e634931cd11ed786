#include "io/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace echod::io {
namespace {

std::optional<address> fail(std::string* error, std::string why) {
  if (error != nullptr) *error = std::move(why);
  return std::nullopt;
}

}  // namespace

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

std::optional<address> address::parse(std::string_view text, std::string* error) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail(error, "expected host:port, got \"" + std::string(text) + "\"");
  }
  std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  int port = -1;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 0 || port > 65535) {
    return fail(error, "bad port \"" + std::string(port_text) + "\" (0 to 65535)");
  }
  address a;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
    const std::string literal = host.substr(1, host.size() - 2);
    if (inet_pton(AF_INET6, literal.c_str(), &in6->sin6_addr) != 1) {
      return fail(error, "bad IPv6 address \"" + literal + "\"");
    }
    in6->sin6_family = AF_INET6;
    a.length = sizeof(sockaddr_in6);
  } else {
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
    if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) != 1) {
      return fail(error, "bad IPv4 address \"" + host + "\" (IPv6 goes in brackets: [::1]:7007)");
    }
    in4->sin_family = AF_INET;
    a.length = sizeof(sockaddr_in);
  }
  a.set_port(port);
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
    return std::string(text) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "(unknown address family)";
}

}  // namespace echod::io
