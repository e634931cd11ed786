// Combines the results of runs that happened at the same time (several load machines against
// one service) into one, exactly: histograms are added bucket by bucket and the percentiles
// recomputed from the sum, counts and errors are summed, throughputs (msgs/s, MB/s) summed
// because the runs were concurrent, the duration is the longest, and fairness is recomputed
// over every connection of every run. The timelines are lined up by wall-clock second and phase
// and merged slot by slot (see timeline.hpp for the clock assumption). Merging merged results
// works the same way.
#pragma once

#include <string>
#include <vector>

#include "client/result.hpp"

namespace echod::client {

/// `inputs` must not be empty.
run_result merge_results(const std::vector<run_result>& inputs);

}  // namespace echod::client
