// echod's command line (CLI11):
//   echod [-c FILE] [--set key=value ...] [--check-config] [--print-config] [--version] [--help]
// Parsing only: what to do with the result is main.cpp's business.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace echod::server {

struct command_line {
  std::string config_path;             ///< -c/--config; empty: the built-in defaults
  std::vector<std::string> overrides;  ///< --set key=value, in the order given
  bool check_config = false;
  bool print_config = false;
};

/// The parsed command line, or the exit code when there is nothing more to do: --help and
/// --version (printed to stdout, 0) or a usage error (printed to stderr, exit_code::usage).
std::variant<command_line, int> parse_command_line(int argc, const char* const* argv);

}  // namespace echod::server
