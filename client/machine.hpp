// What machine a run happened on, for the report: online cores, kernel release, CPU model.
#pragma once

#include "client/result.hpp"

namespace echod::client {

machine_info this_machine();

/// The current UTC time as ISO 8601: "2024-05-01T12:00:00Z".
std::string utc_now_iso8601();

}  // namespace echod::client
