// Command-line parsing (see cli.hpp).
#include "client/cli.hpp"

#include <sstream>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>

#include "config/config_error.hpp"

#ifndef ECHOD_VERSION
#define ECHOD_VERSION "unknown"
#endif

namespace echod::client {
namespace {

constexpr const char* run_footer = R"(
Flags override the --config file, whose keys are the long flag names:
  {"threads": 2, "connections": 500, "duration": "5s", "expect": "echo"}
Durations take a unit (500ms, 10s, 2m; a bare number is seconds); sizes take one too (4KiB).
Exit status: 0 every reply verified, 1 errors (or nothing verified), 2 usage or config error.

Merge reports of concurrent runs (e.g. from several machines):
  echoload merge A.json B.json ... [--json OUT] [--hdr-log OUT]
Draw reports (throughput, latency over time, percentile distribution) with gnuplot:
  echoload plot A.json [B.json ...] [--out DIR])";

command_line usage_error(std::string message) {
  command_line c;
  c.what = command_line::action::exit;
  c.exit_code = exit_usage;
  c.err = "echoload: " + std::move(message) + "\n";
  return c;
}

// Turns a CLI11 parse outcome into a result: --help/--version to stdout, errors to stderr.
command_line from_cli_error(const CLI::App& app, const CLI::ParseError& e) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = app.exit(e, out, err);
  command_line c;
  c.what = command_line::action::exit;
  c.exit_code = code == 0 ? exit_ok : exit_usage;
  c.out = out.str();
  c.err = err.str();
  return c;
}

command_line parse_merge(int argc, const char* const* argv) {
  CLI::App app{
      "Merge echoload JSON reports of concurrent runs exactly: histograms added bucket by "
      "bucket, counts and throughputs summed.",
      "echoload merge"};
  command_line c;
  app.add_option("reports", c.inputs, "JSON reports written by echoload --json")
      ->required()
      ->type_name("FILE");
  app.add_option("--json", c.json, "also write the merged report as JSON to this file")
      ->type_name("FILE");
  app.add_option("--hdr-log", c.hdr_log,
                 "also write the merged timeline as an HdrHistogram interval log to this file")
      ->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return from_cli_error(app, e);
  }
  c.what = command_line::action::merge;
  return c;
}

command_line parse_plot(int argc, const char* const* argv) {
  CLI::App app{
      "Draw echoload JSON reports with gnuplot: throughput.png (messages and errors per "
      "second), latency.png (p50, p99 and max per second) and percentiles.png (the latency "
      "distribution of every report in one picture).",
      "echoload plot"};
  command_line c;
  app.add_option("reports", c.inputs, "JSON reports written by echoload --json or merge")
      ->required()
      ->type_name("FILE");
  app.add_option("--out", c.out_dir,
                 "directory for the PNGs, plot.gp and plot-data/ (default: the current one)")
      ->type_name("DIR");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return from_cli_error(app, e);
  }
  c.what = command_line::action::plot;
  return c;
}

command_line parse_run(int argc, const char* const* argv) {
  CLI::App app{"echoload: load generator for TCP echo services; checks every reply byte for byte.",
               "echoload"};
  app.footer(run_footer);
  app.set_version_flag("--version", std::string("echoload ") + ECHOD_VERSION);

  // Every flag is taken as text and handed to the options reader, which types and checks it;
  // `key` is its JSON key.
  struct flag {
    std::string key;
    std::string text;
    CLI::Option* option = nullptr;
  };
  std::vector<flag> flags;
  flags.reserve(24);
  const auto add = [&](const char* key, const std::string& names, const char* type,
                       const std::string& help) {
    flags.push_back({key, {}, nullptr});
    flags.back().option = app.add_option(names, flags.back().text, help)
                              ->type_name(type)
                              ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  };
  add("target", "target", "HOST:PORT", "the service, HOST:PORT (e.g. 127.0.0.1:7007)");
  add("threads", "-t,--threads", "N",
      "load threads, each its own scheduler and reactor (default 2)");
  add("connections", "-c,--connections", "N", "connections in total (default 100)");
  add("duration", "-d,--duration", "TIME", "measured time, e.g. 10s (default 10s)");
  add("messages", "-n,--messages", "N",
      "stop after this many verified messages in total (alone: no time limit; with -d: "
      "whichever comes first)");
  add("size", "--size", "BYTES", "bytes per message, e.g. 64 or 4KiB (default 64)");
  add("payload", "--payload", "KIND",
      "ascii (mixed case, exercises upper), random, or file:PATH (default ascii)");
  add("pipeline", "--pipeline", "N", "messages in flight per connection (default 1)");
  add("rate", "--rate", "MSGS/S",
      "open loop: messages per second in total, latency from each message's due time "
      "(default 0: closed loop)");
  add("connect-rate", "--connect-rate", "CONNS/S",
      "ramp-up: how fast the slots make their first connections, per second (default 0: all at "
      "once; churn then reconnects at once)");
  add("messages-per-connection", "--messages-per-connection", "N",
      "churn: close each connection after N verified messages and open a new one in its place "
      "(1 = a connection per message; default 0: keep connections)");
  add("warmup", "--warmup", "TIME",
      "time before measuring starts, excluded from the figures (default 0s)");
  add("timeout", "--timeout", "TIME",
      "per reply and per connect; late replies count as errors (default 5s)");
  add("source", "--source", "ADDRS",
      "source addresses to spread connections over, e.g. 127.0.0.2,127.0.0.3");
  add("expect", "--expect", "upper|echo",
      "the reply the service must give: upper or echo (default upper)");
  add("backend", "--backend", "NAME", "auto, io_uring or epoll (default auto)");
  add("json", "--json", "FILE", "also write the report as JSON to this file");
  add("hdr-log", "--hdr-log", "FILE",
      "also write the latency as an HdrHistogram interval log (V2 compressed, one interval a "
      "second) to this file");
  add("progress", "--progress", "auto|on|off",
      "auto, on or off: a line a second on stderr (default auto)");
  std::string config_path;
  app.add_option("--config", config_path, "JSON file with the same keys as the long flags")
      ->type_name("FILE");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return from_cli_error(app, e);
  }

  command_line c;
  try {
    if (!config_path.empty()) load_options_file(config_path, c.run);
    std::vector<std::pair<std::string, std::string>> given;
    for (const flag& f : flags) {
      if (f.option->count() > 0) given.emplace_back(f.key, f.text);
    }
    read_options(flags_to_json(given), "command line", c.run);
    validate(c.run);
  } catch (const config::config_error& e) {
    return usage_error(std::string(e.what()) + "\nRun with --help for more information.");
  }
  c.what = command_line::action::run;
  return c;
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "merge") return parse_merge(argc - 1, argv + 1);
  if (argc >= 2 && std::string_view(argv[1]) == "plot") return parse_plot(argc - 1, argv + 1);
  return parse_run(argc, argv);
}

}  // namespace echod::client
