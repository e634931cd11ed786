// Size and duration parsing/formatting; see units.hpp for the accepted syntax.
#include "config/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace echod::config {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

// The leading run of digits as a number; nullopt when empty or too large for 64 bits.
std::optional<std::uint64_t> parse_digits(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::size_t digit_run(std::string_view text, std::size_t from) {
  std::size_t i = from;
  while (i < text.size() && is_digit(text[i])) ++i;
  return i - from;
}

struct size_unit {
  std::string_view name;
  std::uint64_t bytes;
};

constexpr std::array<size_unit, 11> size_units{{
    {"", 1},
    {"b", 1},
    {"k", 1ULL << 10},
    {"kb", 1ULL << 10},
    {"kib", 1ULL << 10},
    {"m", 1ULL << 20},
    {"mb", 1ULL << 20},
    {"mib", 1ULL << 20},
    {"g", 1ULL << 30},
    {"gb", 1ULL << 30},
    {"gib", 1ULL << 30},
}};

struct duration_unit {
  std::string_view name;
  std::int64_t ns;
};

// Largest first: format_duration picks the first unit that divides exactly.
constexpr std::array<duration_unit, 6> duration_units{{
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
    {"us", 1'000},
    {"ns", 1},
}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const std::size_t digits = digit_run(text, 0);
  const auto value = parse_digits(text.substr(0, digits));
  if (!value) return std::nullopt;
  const std::string_view suffix = text.substr(digits);
  std::uint64_t multiplier = 0;
  for (const auto& unit : size_units) {
    if (iequals(suffix, unit.name)) multiplier = unit.bytes;
  }
  if (multiplier == 0) return std::nullopt;
  if (*value > std::numeric_limits<std::uint64_t>::max() / multiplier) return std::nullopt;
  return *value * multiplier;
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0) {
    if (bytes % (1ULL << 30) == 0) return std::to_string(bytes >> 30) + "GiB";
    if (bytes % (1ULL << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
    if (bytes % (1ULL << 10) == 0) return std::to_string(bytes >> 10) + "KiB";
  }
  return std::to_string(bytes) + "B";
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  const std::size_t int_digits = digit_run(text, 0);
  const auto whole = parse_digits(text.substr(0, int_digits));
  if (!whole) return std::nullopt;
  std::size_t pos = int_digits;
  std::string_view fraction;  // digits after the point, if any
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_digits = digit_run(text, pos + 1);
    if (frac_digits == 0) return std::nullopt;  // "1.s"
    fraction = text.substr(pos + 1, frac_digits);
    pos += 1 + frac_digits;
  }
  const std::string_view suffix = text.substr(pos);
  const duration_unit* unit = nullptr;
  for (const auto& u : duration_units) {
    if (suffix == u.name) unit = &u;
  }
  if (unit == nullptr) return std::nullopt;

  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  const auto unit_ns = static_cast<std::uint64_t>(unit->ns);
  if (*whole > static_cast<std::uint64_t>(max) / unit_ns) return std::nullopt;
  auto total = static_cast<std::int64_t>(*whole * unit_ns);
  if (!fraction.empty()) {
    // A double holds the fraction of even an hour to well under a nanosecond, so rounding its
    // product gives the exact nanosecond count without 128-bit arithmetic.
    const std::string decimal = "0." + std::string(fraction);
    double value = 0;
    const auto [end, ec] = std::from_chars(decimal.data(), decimal.data() + decimal.size(), value);
    if (ec != std::errc{} || end != decimal.data() + decimal.size()) return std::nullopt;
    const auto extra = std::llround(value * static_cast<double>(unit->ns));
    if (total > max - extra) return std::nullopt;
    total += extra;
  }
  return std::chrono::nanoseconds(total);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t ns = d.count();
  if (ns == 0) return "0s";
  for (const auto& unit : duration_units) {
    if (ns % unit.ns == 0) return std::to_string(ns / unit.ns) + std::string(unit.name);
  }
  return std::to_string(ns) + "ns";  // not reached: every count is a multiple of 1ns
}

}  // namespace echod::config
