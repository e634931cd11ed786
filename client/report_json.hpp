// The JSON report (schema "echoload/1", documented in client/report_schema.md): written by
// `echoload --json FILE`, read back by `echoload merge`. Reading is strict about what merge
// needs (the histogram, counts, errors, per-connection counts) and names the file and the JSON
// path of anything wrong; keys it does not know are ignored, so newer writers stay mergeable.
#pragma once

#include <string>
#include <string_view>

#include "client/result.hpp"

namespace echod::client {

inline constexpr std::string_view schema_name = "echoload/1";

/// The report as pretty-printed JSON text (2-space indent, trailing newline).
std::string to_json_text(const run_result& r);

/// Parses a report written by to_json_text. Throws config::config_error "SOURCE: PATH: reason".
run_result from_json_text(std::string_view text, std::string_view source);

/// Writes `text` to `path` (replacing it). Throws std::runtime_error naming the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace echod::client
