#include "server/logging.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace echod::server {
namespace {

// spdlog's level for each config::log_level, in enumerator order (spdlog calls "warn" "warning").
constexpr std::array<spdlog::level::level_enum, 6> spdlog_levels{
    spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
    spdlog::level::warn,  spdlog::level::err,   spdlog::level::off};
static_assert(spdlog_levels.size() == config::choice_names<config::log_level>::names.size());

spdlog::level::level_enum to_level(config::log_level level) {
  return spdlog_levels[static_cast<std::size_t>(level)];
}

}  // namespace

void init_logging(std::string_view role, config::log_level level) {
  // A fresh logger, not a changed pattern: in a forked child the inherited one works, but a new
  // one makes the child's state obvious. stderr_sink_mt: the worker's threads all log.
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("echod", std::move(sink));
  // '%' in the role would be read as a pattern flag; roles are "master" and "worker N".
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %-7l [" + std::string(role) + "] %v");
  logger->set_level(to_level(level));
  // Every line is flushed at once: the log is how tests and operators follow the processes.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void set_log_level(config::log_level level) { spdlog::set_level(to_level(level)); }

}  // namespace echod::server
