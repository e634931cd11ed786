#include "server/logging.hpp"

#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace echod::server {
namespace {

spdlog::level::level_enum to_level(std::string_view level) {
  // spdlog calls "warn" "warning"; the config uses the shorter names.
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "off") return spdlog::level::off;
  return spdlog::level::info;
}

}  // namespace

void init_logging(std::string_view role, std::string_view level) {
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

void set_log_level(std::string_view level) { spdlog::set_level(to_level(level)); }

}  // namespace echod::server
