// echoload's settings: the typed struct the driver runs from, read from JSON objects whose keys
// are the long flag names ({"threads":2,"connections":500,"duration":"5s","expect":"echo"}).
// The --config file and the command line go through the same reader: the file first, then an
// object built from the flags that were given, so flags override the file and both get the same
// checks and the same errors ("FILE: connections: must be between 1 and 1000000, got 0").
// Parsing and formatting only; nothing here opens sockets or files other than the config file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/choices.hpp"
#include "config/config_error.hpp"

namespace echod::client {

/// Bounds the reader enforces (and --help shows).
inline constexpr unsigned max_threads = 256;
inline constexpr unsigned max_connections = 1'000'000;
inline constexpr unsigned max_pipeline = 4096;
inline constexpr std::uint64_t max_message_size = std::uint64_t{64} << 20;

struct options {
  std::string target;          ///< "host:port" of the service (the positional argument)
  unsigned threads = 2;        ///< load threads, one scheduler and reactor each
  unsigned connections = 100;  ///< total, spread round-robin over the threads
  std::chrono::nanoseconds duration = std::chrono::seconds(10);  ///< measured time
  bool duration_set = false;   ///< given explicitly (with --messages: whichever ends first)
  std::uint64_t messages = 0;  ///< total verified messages to stop after; 0 = no limit
  std::uint64_t size = 64;     ///< bytes per message
  bool size_set = false;
  std::string payload = "ascii";              ///< "ascii" | "random" | "file:PATH"
  unsigned pipeline = 1;                      ///< messages in flight per connection
  double rate = 0;                            ///< messages/s in total, open loop; 0 = closed loop
  double connect_rate = 0;                    ///< new connections per second; 0 = all at once
  std::uint64_t messages_per_connection = 0;  ///< then reconnect (churn); 0 = keep connections
  std::chrono::nanoseconds warmup{0};
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);  ///< per reply (and connect)
  std::vector<std::string> source;  ///< source IP addresses, round-robin over connections
  std::string expect = "upper";     ///< "upper" | "echo"
  config::backend_kind backend = config::backend_kind::automatic;
  std::string json;               ///< write the JSON report here ("" = none)
  std::string hdr_log;            ///< write an HdrHistogram interval log here ("" = none)
  std::string progress = "auto";  ///< "auto" | "on" | "off"

  /// The run's time limit: `duration` unless only --messages was given.
  bool time_limited() const { return duration_set || messages == 0; }
};

/// Reads the members of the JSON object `json_text` into `out`, leaving absent keys as they are.
/// `source` names the text in errors (the file name, or "command line"). Throws
/// config::config_error naming the source, the JSON path and the reason for bad JSON, unknown
/// keys, wrong types and out-of-range values.
void read_options(std::string_view json_text, std::string_view source, options& out);

/// read_options() over the contents of the file at `path`.
void load_options_file(const std::string& path, options& out);

/// Checks that concern several fields (--payload file vs --size, target syntax, source
/// addresses, time limits); throws config::config_error with source "options" on failure.
void validate(const options& o);

/// The settings that shape the load, as a JSON object with the same keys (the report's
/// "config"; a valid --config file that reruns the test). Compact when indent < 0.
std::string options_to_json(const options& o, int indent = -1);

/// The JSON object that command-line flags {long name, text} stand for, for read_options():
/// numeric keys take a number when the text is one ("-c 100" -> 100, "-d 10" -> 10 seconds as
/// wrk reads it), and the text otherwise ("-d 5s" -> "5s"); string keys keep their text as is.
std::string flags_to_json(const std::vector<std::pair<std::string, std::string>>& flags);

}  // namespace echod::client
