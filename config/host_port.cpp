// "host:port" syntax check; see host_port.hpp.
#include "config/host_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <optional>

namespace echod::config {
namespace {

// Appends rather than `"\"" + std::string(text)`: GCC 12 at -O3 reports a bogus -Wrestrict for
// `const char* + std::string&&` (GCC bug 105651), which -Werror turns into a failed build.
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  // At most 5 digits keeps from_chars well inside its range; no sign or "0x" is accepted.
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// inet_pton wants a NUL-terminated string; the canonical form comes back from inet_ntop.
std::optional<std::string> canonical_ip(int family, std::string_view host) {
  const std::string text(host);
  unsigned char bytes[sizeof(in6_addr)];
  if (inet_pton(family, text.c_str(), bytes) != 1) return std::nullopt;
  char out[INET6_ADDRSTRLEN];
  if (inet_ntop(family, bytes, out, sizeof out) == nullptr) return std::nullopt;
  return std::string(out);
}

}  // namespace

std::string with_port(std::string_view host, std::uint16_t port) {
  const bool bare_v6 = host.find(':') != std::string_view::npos && host.front() != '[';
  std::string out = bare_v6 ? "[" + std::string(host) + "]" : std::string(host);
  return out + ":" + std::to_string(port);
}

std::string host_port::canonical() const { return with_port(host, port); }

result<host_port> parse_host_port(std::string_view text) {
  const std::string generic =
      "expected \"host:port\" (e.g. \"0.0.0.0:7007\" or \"[::1]:7007\"), got " + quoted(text);
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return failure{generic};
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    bracketed = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return failure{generic};
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }

  host_port out;
  const auto port_number = parse_port(port);
  if (!port_number) {
    return failure{"port must be a number between 0 and 65535, got " + quoted(text)};
  }
  out.port = *port_number;

  if (bracketed) {
    const auto ip = canonical_ip(AF_INET6, host);
    if (!ip) return failure{"expected an IPv6 address inside [brackets], got " + quoted(text)};
    out.host = *ip;
    out.ipv6 = true;
  } else if (host.empty() || host == "*") {
    out.host = "0.0.0.0";  // all IPv4 interfaces, as io::address reads it
  } else if (host == "localhost") {
    out.host = "127.0.0.1";  // as io::address reads it: no resolver, no IPv6 surprise
  } else if (host.find(':') != std::string_view::npos) {
    return failure{"an IPv6 address must be in brackets, e.g. \"[::1]:7007\", got " + quoted(text)};
  } else if (const auto ip = canonical_ip(AF_INET, host)) {
    out.host = *ip;
  } else {
    return failure{
        "host must be an IPv4 address, an IPv6 address in brackets, \"localhost\", \"*\" "
        "or empty, got " +
        quoted(text)};
  }
  return out;
}

}  // namespace echod::config
