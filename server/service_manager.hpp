// What the master tells a service manager (systemd, Type=notify) through sd_notify(3):
//   READY=1 + MAINPID=     the first generation serves (every worker ready), or a reload ended,
//                          applied or not (a manager must never be left in "reloading");
//   RELOADING=1 + MONOTONIC_USEC=   a reload (SIGHUP) began;
//   STOPPING=1             a graceful stop began;
//   STATUS=                "PHASE: generation G, R of W workers ready, C connections", sent with
//                          each of the above and on its own when a worker dies or comes back.
// After an upgrade the old master falls silent (hand_over()). Nothing else: the connection count is
// as of the last event, not polled (`systemctl status` needs no more, /metrics has the live
// numbers). Without NOTIFY_SOCKET it sends nothing. It decides nothing either: the master calls it
// at its events.
#pragma once

#include <string>
#include <string_view>

#include "server/metrics.hpp"

namespace echod::server {

class service_manager {
 public:
  service_manager();

  /// A generation serves with every worker ready: READY=1, unless already sent since the last
  /// reloading(); then only a changed STATUS.
  void ready(const master_snapshot& s);
  /// RELOADING=1, once the service has been ready (before that, READY=1 is still to come).
  void reloading(const master_snapshot& s);
  /// A reload kept the old config: READY=1 if reloading() was sent, and a STATUS that says so.
  void reload_failed(const master_snapshot& s);
  /// STOPPING=1, once.
  void stopping(const master_snapshot& s);
  /// STATUS=, if it says something new.
  void status(const master_snapshot& s);
  /// An upgrade handed the service to a new master, which speaks for it from now on (its READY=1
  /// carries its MAINPID=): this one sends nothing more, not even STOPPING=1 as it exits.
  void hand_over() { enabled_ = false; }

  /// The STATUS= text (without "STATUS="); public for the tests.
  static std::string status_line(std::string_view phase, const master_snapshot& s,
                                 std::string_view note = {});

 private:
  enum class phase { starting, ready, reloading, stopping };
  static std::string ready_fields();
  // Sends `fields` (each "NAME=value\n") and the status line; logs a failure once.
  void send(std::string fields, std::string_view status_phase, const master_snapshot& s,
            std::string_view note = {});

  bool enabled_;
  phase phase_ = phase::starting;
  std::string last_status_;
  bool warned_ = false;
};

}  // namespace echod::server
