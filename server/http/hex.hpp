// Hexadecimal digits, as HTTP writes them in chunk sizes and percent-encoded bytes.
#pragma once

namespace echod::server::http {

/// The value of the hex digit `c` (0-9, a-f, A-F), or -1 when it is not one.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace echod::server::http
