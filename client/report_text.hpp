// The human-readable report, laid out like wrk's so its readers find their way: the test line,
// threads and connections, the latency distribution, Requests/sec and Transfer/sec; then what
// wrk lacks: errors by class with an example of each, fairness across connections, and a
// verdict line ("OK: every reply verified (N messages)" or "FAILED: ...").
#pragma once

#include <cstdint>
#include <string>

#include "client/result.hpp"

namespace echod::client {

std::string format_text_report(const run_result& r);

/// The verdict line alone.
std::string verdict_line(const run_result& r);

/// wrk's latency format: "812.00us", "1.25ms", "2.50s".
std::string format_latency_ns(double ns);
/// Decimal units (10^3 steps): "812B", "1.50KB", "80.00MB", "1.20GB".
std::string format_bytes(double bytes);

}  // namespace echod::client
