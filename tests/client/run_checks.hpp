// Helpers for the tests that drive echoload's driver in-process (load_test, churn_test).
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "client/options.hpp"
#include "client/result.hpp"
#include "io/backend.hpp"
#include "test_server.hpp"

namespace echod::client {

/// Options for a run against `server` over `backend`: 2 threads, no progress lines.
inline options options_for(const testing::test_server& server, io::backend_kind backend) {
  options o;
  o.target = server.target();
  o.backend = backend;
  o.threads = 2;
  o.progress = "off";
  return o;
}

inline std::uint64_t sum(const std::vector<std::uint64_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

/// Every error class's first example and the per-connection counts, for failure messages.
inline std::string diagnosis(const run_result& r) {
  std::string out;
  for (const std::string& example : r.error_examples) {
    if (!example.empty()) out += "\n  error: " + example;
  }
  out += "\n  messages per connection:";
  for (const auto n : r.per_connection) out += " " + std::to_string(n);
  return out;
}

}  // namespace echod::client
