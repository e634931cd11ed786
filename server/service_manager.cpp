#include "server/service_manager.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace echod::server {
namespace {

// MONOTONIC_USEC=: when the reload began, on the manager's clock (CLOCK_MONOTONIC), in µs.
unsigned long long monotonic_usec() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<unsigned long long>(ts.tv_sec) * 1'000'000ULL +
         static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
}

}  // namespace

service_manager::service_manager() : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr) {}

std::string service_manager::status_line(std::string_view phase, const master_snapshot& s,
                                         std::string_view note) {
  std::string out(phase);
  out += ": generation " + std::to_string(s.generation) + ", " + std::to_string(s.workers_ready) +
         " of " + std::to_string(s.workers_wanted) +
         (s.workers_wanted == 1 ? " worker" : " workers") + " ready, " +
         std::to_string(s.totals.active) + (s.totals.active == 1 ? " connection" : " connections");
  if (!note.empty()) out.append("; ").append(note);
  return out;
}

std::string service_manager::ready_fields() {
  return "READY=1\nMAINPID=" + std::to_string(::getpid()) + "\n";
}

void service_manager::ready(const master_snapshot& s) {
  if (phase_ == phase::ready || phase_ == phase::stopping) return status(s);
  phase_ = phase::ready;
  send(ready_fields(), "serving", s);
}

void service_manager::reload_failed(const master_snapshot& s) {
  constexpr std::string_view note = "reload failed (see the log)";
  if (phase_ == phase::reloading) {
    phase_ = phase::ready;
    return send(ready_fields(), "serving", s, note);
  }
  if (phase_ == phase::starting) send({}, "starting", s, note);
}

void service_manager::reloading(const master_snapshot& s) {
  if (phase_ != phase::ready) return;
  phase_ = phase::reloading;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\n", "reloading", s);
}

void service_manager::stopping(const master_snapshot& s) {
  if (phase_ == phase::stopping) return;
  phase_ = phase::stopping;
  send("STOPPING=1\n", "stopping", s);
}

void service_manager::status(const master_snapshot& s) {
  if (!enabled_) return;
  const char* name = phase_ == phase::reloading  ? "reloading"
                     : phase_ == phase::stopping ? "stopping"
                     : phase_ == phase::starting ? "starting"
                                                 : "serving";
  if (status_line(name, s) != last_status_) send({}, name, s);
}

void service_manager::send(std::string fields, std::string_view status_phase,
                           const master_snapshot& s, std::string_view note) {
  if (!enabled_) return;
  last_status_ = status_line(status_phase, s, note);
  fields += "STATUS=" + last_status_;
  const int r = sd_notify(0, fields.c_str());
  if (r < 0 && !warned_) {
    warned_ = true;
    spdlog::warn("sd_notify to NOTIFY_SOCKET={}: {} (the service manager may not see this state)",
                 std::getenv("NOTIFY_SOCKET"), std::strerror(-r));
  }
}

}  // namespace echod::server
