// The classes of failure echoload counts, in report order. Each has a fixed JSON key (the
// "errors" object of report_schema.md) and a one-line meaning for the text report.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>

namespace echod::client {

enum class error_class : std::size_t {
  connect,      ///< the connection could not be made (refused, timed out, no port, no file)
  timeout,      ///< a reply (or a write) did not complete within --timeout
  reset,        ///< the server reset the connection (ECONNRESET, EPIPE)
  short_reply,  ///< the server closed the connection with replies outstanding
  mismatch,     ///< a reply byte differed from what the service must answer, or was unsolicited
  other,        ///< any other socket error
};

inline constexpr std::size_t error_class_count = 6;

/// The JSON key and the text report's label: "connect", "timeout", "reset", "short",
/// "mismatch", "other".
constexpr const char* error_key(error_class c) {
  constexpr const char* keys[] = {"connect", "timeout", "reset", "short", "mismatch", "other"};
  return keys[static_cast<std::size_t>(c)];
}

struct error_counts {
  std::array<std::uint64_t, error_class_count> by_class{};

  std::uint64_t& operator[](error_class c) { return by_class[static_cast<std::size_t>(c)]; }
  std::uint64_t operator[](error_class c) const { return by_class[static_cast<std::size_t>(c)]; }
  std::uint64_t total() const {
    return std::accumulate(by_class.begin(), by_class.end(), std::uint64_t{0});
  }
  error_counts& operator+=(const error_counts& o) {
    for (std::size_t i = 0; i < error_class_count; ++i) by_class[i] += o.by_class[i];
    return *this;
  }
  bool operator==(const error_counts&) const = default;
};

}  // namespace echod::client
