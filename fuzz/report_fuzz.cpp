// libFuzzer target: echoload's JSON report reader and `echoload merge` (client/report_json.*,
// client/merge.*) on arbitrary text. Any input must end in a report or a config_error naming
// what is wrong. A report that reads must write back as text that reads to the same text, and
// must merge with itself and with the merge of itself without crashing (merge sums counts and
// histograms, so hostile numbers reach its arithmetic).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "client/merge.hpp"
#include "client/report_json.hpp"
#include "config/config_error.hpp"

namespace {

using echod::client::from_json_text;
using echod::client::run_result;
using echod::client::to_json_text;

// Writes `r` and reads it back; the second write must be the same text as the first.
void require_round_trip(const run_result& r, const char* what) {
  const std::string once = to_json_text(r);
  try {
    if (to_json_text(from_json_text(once, "<written>")) == once) return;
    std::fprintf(stderr, "report: %s does not survive write/read/write:\n%s\n", what, once.c_str());
  } catch (const echod::config::config_error& e) {
    std::fprintf(stderr, "report: %s, once written, does not read back: %s\n%s\n", what, e.what(),
                 once.c_str());
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  run_result r;
  try {
    r = from_json_text(std::string_view(reinterpret_cast<const char*>(data), size), "<fuzz>");
  } catch (const echod::config::config_error&) {
    return 0;
  }
  require_round_trip(r, "a report");
  const run_result twice = echod::client::merge_results({r, r});
  require_round_trip(twice, "a merged report");
  require_round_trip(echod::client::merge_results({twice, r}), "a merge of a merge");
  return 0;
}
