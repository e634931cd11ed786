// HdrHistogram interop: the histogram in HdrHistogram's V2 compressed encoding and a run's
// timeline as an HdrHistogram interval log (format 1.3), so that HdrHistogram's own tools
// (HistogramLogProcessor, the log analyzers, the JavaScript and Go ports) read echoload's
// latencies. Our bucket layout *is* HdrHistogram's for lowest value 1, highest 2^36 - 1 and 2
// significant digits (256 unit buckets, then 128 sub-buckets per power of two), so the counts go
// over index for index and nothing is re-binned.
#pragma once

#include <string>

#include "client/histogram.hpp"
#include "client/result.hpp"

namespace echod::client {

/// `h` in HdrHistogram's V2 compressed encoding (zlib-deflated ZigZag-LEB128 counts behind the
/// standard headers), base64: an "Interval_Compressed_Histogram" field ("HISTF...").
std::string hdr_compressed_base64(const histogram_snapshot& h);

/// The log: the standard header lines (format version, StartTime, BaseTime, legend), then one
/// line per measured interval of the timeline, values in ns, Interval_Max in ms (HdrHistogram's
/// default max value unit ratio of 10^6). Untagged lines hold the report's `histogram`
/// (open loop: corrected, from the due time); open-loop runs add `Tag=uncorrected` lines with
/// the service time. Warm-up and wind-down intervals are left out, so the untagged lines add up
/// to exactly the report's histogram.
std::string hdr_log_text(const run_result& r);

}  // namespace echod::client
