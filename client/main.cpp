// echoload: a load generator for TCP echo services that checks every reply. Parses the command
// line, runs the test (or merges or plots reports), prints the text report on stdout and writes the
// JSON report. The first Ctrl-C ends the run early and still reports; a second one kills.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "client/cli.hpp"
#include "client/driver.hpp"
#include "client/hdr_log.hpp"
#include "client/merge.hpp"
#include "client/plot.hpp"
#include "client/progress.hpp"
#include "client/report_json.hpp"
#include "client/report_text.hpp"
#include "config/config_error.hpp"
#include "config/json_reader.hpp"

namespace {

using namespace echod::client;

std::atomic<bool> interrupted{false};

extern "C" void on_interrupt(int) { interrupted.store(true, std::memory_order_relaxed); }

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second Ctrl-C gets the default action
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Writes the --json report and the --hdr-log, when asked for; exit_failed (and a message
// naming the flag) when one cannot be written.
int write_outputs(const std::string& json, const std::string& hdr_log, const run_result& r) {
  try {
    if (!json.empty()) write_text_file(json, to_json_text(r));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echoload: --json %s\n", e.what());
    return exit_failed;
  }
  try {
    if (!hdr_log.empty()) write_text_file(hdr_log, hdr_log_text(r));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echoload: --hdr-log %s\n", e.what());
    return exit_failed;
  }
  return exit_ok;
}

// The reports named on the command line; exit_usage and a message when one cannot be read.
int read_reports(const command_line& cmd, const char* command, std::vector<run_result>& out) {
  try {
    for (const std::string& path : cmd.inputs) {
      out.push_back(from_json_text(echod::config::read_text_file(path), path));
    }
  } catch (const echod::config::config_error& e) {
    std::fprintf(stderr, "echoload %s: %s\n", command, e.what());
    return exit_usage;
  }
  return exit_ok;
}

int run_merge(const command_line& cmd) {
  std::vector<run_result> inputs;
  if (const int rc = read_reports(cmd, "merge", inputs); rc != exit_ok) return rc;
  const run_result merged = merge_results(inputs);
  std::fputs(format_text_report(merged).c_str(), stdout);
  std::fflush(stdout);
  if (write_outputs(cmd.json, cmd.hdr_log, merged) != exit_ok) return exit_failed;
  return merged.ok() ? exit_ok : exit_failed;
}

int run_plot(const command_line& cmd) {
  std::vector<run_result> reports;
  if (const int rc = read_reports(cmd, "plot", reports); rc != exit_ok) return rc;
  std::vector<plot_input> inputs;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    inputs.push_back({std::filesystem::path(cmd.inputs[i]).stem().string(), std::move(reports[i])});
  }
  try {
    for (const std::string& png : plot_reports(inputs, cmd.out_dir)) {
      std::printf("%s\n", png.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echoload plot: %s\n", e.what());
    return exit_failed;
  }
  return exit_ok;
}

int run_test(const options& o) {
  install_interrupt_handler();
  run_hooks hooks;
  hooks.interrupted = &interrupted;
  const bool progress = progress_enabled(o.progress);
  if (progress) hooks.on_progress = progress_printer(stderr);
  run_result r;
  try {
    r = run_load(o, hooks);
  } catch (const echod::config::config_error& e) {
    std::fprintf(stderr, "echoload: %s\n", e.what());
    return exit_usage;
  } catch (const setup_error& e) {
    std::fprintf(stderr, "echoload: %s\n", e.what());
    return exit_usage;
  }
  if (interrupted.load()) r.notes.push_back("interrupted: the run ended early");
  std::fputs(format_text_report(r).c_str(), stdout);
  std::fflush(stdout);
  if (write_outputs(o.json, o.hdr_log, r) != exit_ok) return exit_failed;
  return r.ok() ? exit_ok : exit_failed;
}

}  // namespace

int main(int argc, char** argv) {
  // Sockets use MSG_NOSIGNAL; this covers stdout going to a closed pipe (echoload | head).
  signal(SIGPIPE, SIG_IGN);
  const command_line cmd = parse_command_line(argc, argv);
  switch (cmd.what) {
    case command_line::action::exit:
      std::fputs(cmd.out.c_str(), stdout);
      std::fputs(cmd.err.c_str(), stderr);
      return cmd.exit_code;
    case command_line::action::merge:
      return run_merge(cmd);
    case command_line::action::plot:
      return run_plot(cmd);
    case command_line::action::run:
      return run_test(cmd.run);
  }
  return exit_usage;
}
