// The classes of failure echoload counts, in report order. Each has a fixed JSON key (the
// "errors" object of report_schema.md) and a one-line meaning for the text report.
#pragma once

#include <array>
#include <cerrno>
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

/// Why a connect failed, for the `connect_errors` breakdown of the `connect` class.
enum class connect_failure : std::size_t {
  refused,      ///< ECONNREFUSED: nothing listens, or the backlog overflowed with RSTs on
  timeout,      ///< no answer within --timeout (SYN dropped: a full backlog, a firewall)
  no_port,      ///< EADDRNOTAVAIL: the local ephemeral ports are used up
  no_file,      ///< EMFILE, ENFILE: the open-file limit
  unreachable,  ///< ENETUNREACH, EHOSTUNREACH
  other,
};

inline constexpr std::size_t connect_failure_count = 6;

constexpr const char* connect_failure_key(connect_failure c) {
  constexpr const char* keys[] = {"refused", "timeout",     "no_port",
                                  "no_file", "unreachable", "other"};
  return keys[static_cast<std::size_t>(c)];
}

/// The class of a connect's -errno result.
constexpr connect_failure classify_connect(int r) {
  switch (-r) {
    case ECONNREFUSED:
      return connect_failure::refused;
    case ETIMEDOUT:
      return connect_failure::timeout;
    case EADDRNOTAVAIL:
      return connect_failure::no_port;
    case EMFILE:
    case ENFILE:
      return connect_failure::no_file;
    case ENETUNREACH:
    case EHOSTUNREACH:
      return connect_failure::unreachable;
    default:
      return connect_failure::other;
  }
}

using connect_failure_counts = std::array<std::uint64_t, connect_failure_count>;

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
