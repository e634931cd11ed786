// echod's log: spdlog to stderr, one line per event, each prefixed with the time, the level and
// the process role ("master", "worker 2"), so the interleaved output of all processes reads as
// one log. Not a general logging layer: the rest of server/ calls spdlog directly.
#pragma once

#include <string_view>

#include "config/choices.hpp"

namespace echod::server {

/// Sets up the default logger: stderr, at `level`, lines tagged with `role`. Call once per
/// process, before any other thread exists; call again in a forked child to change the role.
void init_logging(std::string_view role, config::log_level level);

/// Changes the level of the default logger (a reload may change it).
void set_log_level(config::log_level level);

}  // namespace echod::server
