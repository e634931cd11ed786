// Exact merge of run results (see merge.hpp).
#include "client/merge.hpp"

#include <algorithm>
#include <cassert>

namespace echod::client {
namespace {

void add_distinct(std::string& list, const std::string& item) {
  if (item.empty()) return;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = list.find(", ", start);
    if (list.compare(start, comma == std::string::npos ? std::string::npos : comma - start, item) ==
        0) {
      return;
    }
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  list += (list.empty() ? "" : ", ") + item;
}

run_summary summary_of(const run_result& r) {
  return {r.target, r.started_at, r.machine, r.duration_s, r.messages, r.msgs_per_sec};
}

}  // namespace

run_result merge_results(const std::vector<run_result>& inputs) {
  assert(!inputs.empty());
  run_result out;
  out.config_json = inputs.front().config_json;
  out.machine = inputs.front().machine;
  out.started_at = inputs.front().started_at;
  std::vector<std::vector<interval>> timelines;
  for (const run_result& r : inputs) {
    add_distinct(out.target, r.target);
    add_distinct(out.backend, r.backend);
    if (!r.started_at.empty() && (out.started_at.empty() || r.started_at < out.started_at)) {
      out.started_at = r.started_at;
    }
    out.threads += r.threads;
    out.connections += r.connections;
    out.connections_opened += r.connections_opened;
    out.connects += r.connects;
    out.connects_per_sec += r.connects_per_sec;
    out.open_loop = out.open_loop || r.open_loop;
    out.service.merge(r.service);
    out.connect_latency.merge(r.connect_latency);
    for (std::size_t c = 0; c < connect_failure_count; ++c) {
      out.connect_errors[c] += r.connect_errors[c];
    }
    timelines.push_back(r.timeline);
    out.duration_s = std::max(out.duration_s, r.duration_s);
    out.messages += r.messages;
    out.bytes_sent += r.bytes_sent;
    out.bytes_received += r.bytes_received;
    out.msgs_per_sec += r.msgs_per_sec;
    out.mb_per_sec += r.mb_per_sec;
    out.latency.merge(r.latency);
    out.errors += r.errors;
    for (std::size_t c = 0; c < error_class_count; ++c) {
      if (out.error_examples[c].empty()) out.error_examples[c] = r.error_examples[c];
    }
    out.per_connection.insert(out.per_connection.end(), r.per_connection.begin(),
                              r.per_connection.end());
    for (const std::string& note : r.notes) {
      if (std::find(out.notes.begin(), out.notes.end(), note) == out.notes.end()) {
        out.notes.push_back(note);
      }
    }
    if (r.runs.empty()) {
      out.runs.push_back(summary_of(r));
    } else {
      out.runs.insert(out.runs.end(), r.runs.begin(), r.runs.end());
    }
  }
  out.timeline = merge_timelines(timelines);
  return out;
}

}  // namespace echod::client
