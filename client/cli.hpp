// echoload's command line (CLI11): `echoload [options] HOST:PORT` runs a test,
// `echoload merge A.json B.json ... [--json OUT] [--hdr-log OUT]` merges reports, `echoload plot
// A.json [B.json ...] [--out DIR]` draws them. wrk's flags where wrk has one
// (-t, -c, -d, --timeout). The --config file is read first, then the flags that were given are
// applied over it through the same reader (options.hpp), so both are checked alike.
#pragma once

#include <string>
#include <vector>

#include "client/options.hpp"

namespace echod::client {

/// Exit statuses: 0 every reply verified; 1 errors (or nothing verified); 2 usage or config.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;
inline constexpr int exit_usage = 2;

struct command_line {
  enum class action { run, merge, plot, exit };
  action what = action::exit;
  options run;                      ///< action::run: validated
  std::vector<std::string> inputs;  ///< action::merge, action::plot: the reports
  std::string json;                 ///< action::merge: --json OUT
  std::string hdr_log;              ///< action::merge: --hdr-log OUT
  std::string out_dir = ".";        ///< action::plot: --out DIR
  int exit_code = exit_ok;          ///< action::exit
  std::string out;                  ///< action::exit: for stdout (--help, --version)
  std::string err;                  ///< action::exit: for stderr (usage and config errors)
};

command_line parse_command_line(int argc, const char* const* argv);

}  // namespace echod::client
