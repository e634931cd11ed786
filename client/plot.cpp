// gnuplot pictures of reports (see plot.hpp). Time runs from each report's own first interval,
// so runs started at different times overlay; a merged report is one run.
#include "client/plot.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "client/report_json.hpp"

extern char** environ;

namespace echod::client {
namespace {

namespace fs = std::filesystem;

// One line per interval: elapsed seconds at the interval's middle, msgs/s, errors/s, p50, p99 and
// max in µs (an interval without replies has no latency: "NaN", which gnuplot leaves out), then
// 1 in warm-up and wind-down intervals, 0 in measured ones. Slivers shorter than min_span (where
// a phase boundary falls just after a whole second) are left out: a rate over a few
// milliseconds is noise, not a point on a per-second curve.
constexpr double min_span_s = 0.1;

std::string timeline_data(const run_result& r) {
  std::string out = "# elapsed_s msgs_per_s errors_per_s p50_us p99_us max_us not_measured\n";
  if (r.timeline.empty()) return out;
  const double t0 = static_cast<double>(r.timeline.front().second) + r.timeline.front().offset_s;
  for (const interval& i : r.timeline) {
    if (i.length_s < min_span_s) continue;
    const double mid = static_cast<double>(i.second) + i.offset_s + i.length_s / 2 - t0;
    const histogram h(i.latency);
    const auto us = [&](std::uint64_t ns) {
      return h.count() == 0 ? std::string("NaN")
                            : fmt::format("{:.3f}", static_cast<double>(ns) / 1e3);
    };
    out += fmt::format("{:.3f} {:.1f} {:.1f} {} {} {} {}\n", mid,
                       static_cast<double>(i.messages) / i.length_s,
                       static_cast<double>(i.errors.total()) / i.length_s, us(h.percentile(50)),
                       us(h.percentile(99)), us(h.max()), i.when == phase::measured ? 0 : 1);
  }
  return out;
}

// The percentile distribution as steps: from each bucket's first rank on, the bucket's value,
// at x = 1 / (1 - p) for the fraction p of values below it; the last step (max) ends at
// p = 1 - 1/count.
std::string percentile_data(const histogram& h) {
  std::string out = "# one_over_one_minus_p latency_us percentile\n";
  if (h.count() == 0) return out;
  const double n = static_cast<double>(h.count());
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.bucket(i) == 0) continue;
    const std::uint64_t mid = std::clamp(histogram::middle_of(i), h.min(), h.max());
    const double p = static_cast<double>(below) / n;
    out += fmt::format("{:.6g} {:.3f} {:.6f}\n", 1.0 / (1.0 - p), static_cast<double>(mid) / 1e3,
                       p * 100);
    below += h.bucket(i);
  }
  const double last = 1.0 - 1.0 / n;
  out += fmt::format("{:.6g} {:.3f} {:.6f}\n", 1.0 / (1.0 - last),
                     static_cast<double>(h.max()) / 1e3, last * 100);
  return out;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string script(const std::vector<plot_input>& inputs) {
  std::string gp = R"(# Written by echoload plot; redraw with: gnuplot plot.gp
set terminal pngcairo noenhanced size 900,600 font 'sans,10'
set grid
set lmargin 10
set rmargin 8
set key outside bottom center horizontal
set format y '%g'
)";
  const auto each = [&](auto&& line) {
    std::string out;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      out += (k == 0 ? "plot " : ", \\\n     ") + line(k);
    }
    return out + "\n";
  };
  const auto data = [](std::size_t k, const char* kind) {
    return quoted(fmt::format("plot-data/{}-{}.dat", k, kind));
  };
  const auto title = [&](std::size_t k, const std::string& what) {
    return quoted(inputs.size() == 1 ? what : inputs[k].label + " " + what);
  };
  // Throughput above, errors below, on one time axis; warm-up and wind-down points hollow.
  gp +=
      "set output 'throughput.png'\nset multiplot layout 2,1 title 'throughput and errors over "
      "time'\n";
  gp += "set ylabel 'messages/s'\nset xlabel ''\nset yrange [0:*]\n";
  gp += each([&](std::size_t k) {
    return fmt::format(
        "{0} using 1:2 with linespoints lc {1} pt 7 ps 0.5 title {2}, "
        "{0} using 1:($7 == 1 ? $2 : NaN) with points lc {1} pt 6 ps 1.5 title {3}",
        data(k, "timeline"), k + 1, title(k, "msgs/s"), title(k, "warm-up, wind-down"));
  });
  // Without any error the axis would have no extent: give it one.
  const bool any_errors = std::any_of(inputs.begin(), inputs.end(), [](const plot_input& i) {
    return i.report.errors.total() > 0;
  });
  gp += "set ylabel 'errors/s'\nset xlabel 'seconds since start'\n";
  gp += any_errors ? "set yrange [0:*]\n" : "set yrange [0:1]\n";
  gp += each([&](std::size_t k) {
    return fmt::format("{} using 1:3 with impulses lw 3 lc {} title {}", data(k, "timeline"), k + 1,
                       title(k, "errors/s"));
  });
  gp += "unset multiplot\nset yrange [*:*]\n";
  // p50, p99, max over time; log scale, since max is often far above p50.
  gp += "set output 'latency.png'\nset title 'latency over time (per-second histograms)'\n";
  gp += "set ylabel 'latency (us)'\nset xlabel 'seconds since start'\nset logscale y\n";
  gp += each([&](std::size_t k) {
    const std::string d = data(k, "timeline");
    return fmt::format(
        "{0} using 1:4 with linespoints lc {1} dt 1 pt 7 ps 0.5 title {2}, "
        "{0} using 1:5 with linespoints lc {1} dt 2 pt 5 ps 0.5 title {3}, "
        "{0} using 1:6 with linespoints lc {1} dt 3 pt 9 ps 0.5 title {4}",
        d, k + 1, title(k, "p50"), title(k, "p99"), title(k, "max"));
  });
  // The distribution: x = 1/(1-p), ticks at the usual percentiles (tick labels are formats:
  // %% is a percent sign).
  gp += R"(set output 'percentiles.png'
set title 'latency by percentile'
set xlabel 'percentile'
set logscale x
set xtics ('0%%' 1, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, '99.9999%%' 1000000)
)";
  gp += each([&](std::size_t k) {
    return fmt::format("{} using 1:2 with steps lw 2 lc {} title {}", data(k, "percentiles"), k + 1,
                       quoted(inputs[k].label));
  });
  return gp;
}

void run_gnuplot(const fs::path& dir) {
  const std::string dir_text = dir.string();
  const char* argv[] = {"gnuplot", "plot.gp", nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir_text.c_str());
  pid_t pid = 0;
  const int r = posix_spawnp(&pid, "gnuplot", &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) {
    throw std::runtime_error(std::string("cannot run gnuplot: ") + std::strerror(r) +
                             " (install it: apt-get install gnuplot-nox)");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("gnuplot failed on " + (dir / "plot.gp").string() +
                             " (its messages are above)");
  }
}

}  // namespace

std::vector<std::string> plot_reports(const std::vector<plot_input>& inputs,
                                      const std::string& dir) {
  const fs::path out(dir);
  std::error_code ec;
  fs::create_directories(out / "plot-data", ec);
  if (ec) throw std::runtime_error(dir + ": cannot create: " + ec.message());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    write_text_file((out / "plot-data" / fmt::format("{}-timeline.dat", k)).string(),
                    timeline_data(inputs[k].report));
    write_text_file((out / "plot-data" / fmt::format("{}-percentiles.dat", k)).string(),
                    percentile_data(inputs[k].report.latency));
  }
  write_text_file((out / "plot.gp").string(), script(inputs));
  run_gnuplot(out);
  std::vector<std::string> pngs;
  for (const char* name : {"throughput.png", "latency.png", "percentiles.png"}) {
    pngs.push_back((out / name).string());
  }
  return pngs;
}

}  // namespace echod::client
