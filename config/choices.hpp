// The named choices of the config files (reactor backend, service, log level): each enum with its
// names in one table, in enumerator order. Parsing (json_reader's read_choice), printing
// (--print-config), the reactor factory, the logger and the service table all go through these
// tables, so no other file spells the names out. server/services.cpp's static_assert ties its
// service table to service_kind.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace echod::config {

/// Which reactor runs the schedulers: "auto" takes io_uring when its probe passes, else epoll.
enum class backend_kind { automatic, io_uring, epoll };
/// What a connection runs (server/services.hpp has the functions).
enum class service_kind { upper, echo, http };
/// The log's threshold; `off` logs nothing.
enum class log_level { trace, debug, info, warn, error, off };

/// choice_names<E>::names[i] is the config spelling of the enumerator with value i.
template <class E>
struct choice_names;

template <>
struct choice_names<backend_kind> {
  static constexpr std::array<std::string_view, 3> names{"auto", "io_uring", "epoll"};
  static_assert(names.size() == std::size_t(backend_kind::epoll) + 1);
};

template <>
struct choice_names<service_kind> {
  static constexpr std::array<std::string_view, 3> names{"upper", "echo", "http"};
  static_assert(names.size() == std::size_t(service_kind::http) + 1);
};

template <>
struct choice_names<log_level> {
  static constexpr std::array<std::string_view, 6> names{"trace", "debug", "info",
                                                         "warn",  "error", "off"};
  static_assert(names.size() == std::size_t(log_level::off) + 1);
};

/// The config spelling of `value`; NUL-terminated (every name is a string literal).
template <class E>
constexpr std::string_view name_of(E value) {
  return choice_names<E>::names[static_cast<std::size_t>(value)];
}

/// The enumerator spelled `name`, or nullopt.
template <class E>
constexpr std::optional<E> parse_choice(std::string_view name) {
  const auto& names = choice_names<E>::names;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<E>(i);
  }
  return std::nullopt;
}

}  // namespace echod::config
