// Progress lines (see progress.hpp).
#include "client/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "client/histogram.hpp"
#include "client/report_text.hpp"

namespace echod::client {

bool progress_enabled(const std::string& mode) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  return isatty(STDERR_FILENO) == 1;
}

std::string progress_printer::format(const interval& i, double run_start_s) {
  const double start_s = static_cast<double>(i.second) + i.offset_s;
  const double per_s = i.length_s > 0 ? 1.0 / i.length_s : 0.0;
  const histogram h(i.latency);
  const auto ns = [](std::uint64_t v) { return format_latency_ns(static_cast<double>(v)); };
  return fmt::format(
      "[{:6.1f}s] {:>9.0f} msgs/s  p50 {:>8}  p99 {:>8}  max {:>8}  {:>6} open {:>7.0f} conn/s "
      "{:>5} errors{}",
      start_s + i.length_s - run_start_s, static_cast<double>(i.messages) * per_s,
      ns(h.percentile(50)), ns(h.percentile(99)), ns(h.max()), i.open,
      static_cast<double>(i.connects) * per_s, i.errors.total(),
      i.when == phase::measured ? "" : fmt::format("  ({})", phase_key(i.when)));
}

void progress_printer::operator()(const interval& i) {
  if (run_start_s_ < 0) run_start_s_ = static_cast<double>(i.second) + i.offset_s;
  const std::string line = format(i, run_start_s_);
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace echod::client
