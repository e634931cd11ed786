// Progress lines (see progress.hpp).
#include "client/progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace echod::client {

bool progress_enabled(const std::string& mode) {
  if (mode == "on") return true;
  if (mode == "off") return false;
  return isatty(STDERR_FILENO) == 1;
}

std::string progress_printer::format(const progress_sample& s,
                                     std::chrono::nanoseconds previous_elapsed,
                                     std::uint64_t previous_messages) {
  const double seconds = std::chrono::duration<double>(s.elapsed - previous_elapsed).count();
  const double rate =
      seconds > 0 ? static_cast<double>(s.messages - previous_messages) / seconds : 0.0;
  return fmt::format("[{:6.1f}s] {:>10.0f} msgs/s {:>7} open {:>7} errors{}",
                     std::chrono::duration<double>(s.elapsed).count(), rate, s.open, s.errors,
                     s.warming_up ? "  (warm-up)" : "");
}

void progress_printer::operator()(const progress_sample& s) {
  const std::string line = format(s, last_elapsed_, last_messages_);
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
  last_elapsed_ = s.elapsed;
  last_messages_ = s.messages;
}

}  // namespace echod::client
