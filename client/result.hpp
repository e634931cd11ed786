// What a load run produced, in the form the reports print and `echoload merge` combines: the
// figures of the measured window (warm-up excluded), the latency histogram, errors by class and
// per-connection message counts. The driver fills one; report_json.cpp reads one back from JSON.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "client/errors.hpp"
#include "client/histogram.hpp"
#include "client/timeline.hpp"

namespace echod::client {

struct machine_info {
  unsigned cores = 0;
  std::string kernel;  ///< uname -r
  std::string cpu;     ///< the first "model name" of /proc/cpuinfo

  bool operator==(const machine_info&) const = default;
};

/// One source run of a (possibly merged) result: enough to tell the runs apart.
struct run_summary {
  std::string target;
  std::string started_at;  ///< UTC, ISO 8601
  machine_info machine;
  double duration_s = 0;
  std::uint64_t messages = 0;
  double msgs_per_sec = 0;
};

struct run_result {
  std::string target;       ///< "127.0.0.1:7007"; merged runs list distinct targets
  std::string config_json;  ///< the effective config as compact JSON (report "config")
  machine_info machine;
  std::string started_at;  ///< UTC, ISO 8601, e.g. "2024-05-01T12:00:00Z"
  std::string backend;     ///< the backend that ran: "io_uring" or "epoll"

  unsigned threads = 0;
  unsigned connections = 0;              ///< connections configured
  std::uint64_t connections_opened = 0;  ///< established, warm-up and wind-down included
  std::uint64_t connects = 0;            ///< established within the window
  double connects_per_sec = 0;           ///< connects / duration_s
  double duration_s = 0;                 ///< the measured window
  std::uint64_t messages = 0;            ///< replies verified within the window
  std::uint64_t bytes_sent = 0;          ///< payload bytes of messages sent within the window
  std::uint64_t bytes_received = 0;      ///< payload bytes of replies verified within the window
  double msgs_per_sec = 0;
  double mb_per_sec = 0;  ///< bytes_sent per second / 10^6

  bool open_loop = false;     ///< --rate was given
  histogram latency;          ///< per-message latency, ns (open loop: from the due time, corrected)
  histogram service;          ///< open loop only: from the actual send (uncorrected), ns
  histogram connect_latency;  ///< connect start to established, ns, window connects
  connect_failure_counts connect_errors{};                    ///< the `connect` class, by cause
  error_counts errors;                                        ///< all errors, warm-up included
  std::array<std::string, error_class_count> error_examples;  ///< first message per class
  std::vector<std::uint64_t> per_connection;  ///< verified messages in the window, per connection

  std::vector<interval> timeline;  ///< second by second, all phases, in time order

  std::vector<std::string> notes;  ///< hints about the errors, e.g. "ports used up: --source"
  std::vector<run_summary> runs;   ///< the source runs of a merge; empty for a single run

  bool ok() const { return errors.total() == 0 && messages > 0; }
};

/// Sets messages, bytes, latency, service, errors, connections_opened and connects from the
/// timeline: the measured intervals for the window's figures, all of them for errors and opens.
void add_timeline_totals(run_result& r);

/// msgs_per_sec, mb_per_sec and connects_per_sec from the counts and duration_s.
void set_rates(run_result& r);

/// Messages per connection: the least served, the median (nearest rank) and the most served.
struct fairness_stats {
  std::uint64_t min = 0;
  std::uint64_t median = 0;
  std::uint64_t max = 0;
};
fairness_stats fairness_of(const std::vector<std::uint64_t>& per_connection);

}  // namespace echod::client
