// Sizes ("64KiB") and durations ("500ms") the way people write them in config files and on
// command lines: parsed strictly (no sign, no whitespace, nullopt on junk or overflow) and
// formatted back into text that parses to the same value. Knows nothing about JSON or about
// which ranges a field allows; json_reader.hpp builds typed, range-checked fields on top.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace echod::config {

/// Bytes from a plain integer ("65536") or an integer with a unit: B; K, KB, KiB; M, MB, MiB;
/// G, GB, GiB (units are case-insensitive). Every multiplier is binary: "K", "KB" and "KiB" all
/// mean 1024, because these are buffer and stack sizes where nobody means 1000 and a silent
/// factor of 1.024 would only surprise. No fractions ("1.5MiB"), signs or spaces; nullopt on
/// anything else or when the value does not fit in 64 bits.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The largest binary unit that divides `bytes` exactly: "64KiB", "1MiB", "1000B", "0B".
/// parse_size(format_size(n)) == n for every n.
std::string format_size(std::uint64_t bytes);

/// A non-negative decimal number followed by a unit, lower case: "ns", "us", "ms", "s", "m"
/// (minutes), "h": "250us", "500ms", "10s", "1.5s", "2m", "1h". The unit is required (a bare
/// "10" is ambiguous). A fraction needs digits on both sides of the point and is rounded to the
/// nearest nanosecond. nullopt on junk, signs, spaces, or more than ~292 years (int64 ns).
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// The largest unit that divides `d` exactly: "2m", "90s", "1500ms", "0s".
/// parse_duration(format_duration(d)) == d for every non-negative d.
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace echod::config
