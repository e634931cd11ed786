// `echoload plot`: pictures of one or more JSON reports, drawn by gnuplot (a separate program,
// run once): throughput and errors over time, p50/p99/max latency over time, and the latency
// percentile distribution on the usual log "1 / (1 - percentile)" axis, several reports in one
// picture so that runs can be compared. Writes the data and the gnuplot script next to the
// PNGs, so a picture can be redrawn or restyled by hand.
#pragma once

#include <string>
#include <vector>

#include "client/result.hpp"

namespace echod::client {

struct plot_input {
  std::string label;  ///< the legend entry, e.g. the report's file name
  run_result report;
};

/// Writes DIR/throughput.png, DIR/latency.png and DIR/percentiles.png (plus plot.gp and
/// plot-data/) and returns the PNG paths. Throws std::runtime_error naming what failed
/// (the directory, gnuplot missing or failing).
std::vector<std::string> plot_reports(const std::vector<plot_input>& inputs,
                                      const std::string& dir);

}  // namespace echod::client
