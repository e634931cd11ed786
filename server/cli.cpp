#include "server/cli.hpp"

#include <cstdio>

#include <CLI/CLI.hpp>

#include "server/exit_codes.hpp"

namespace echod::server {

std::variant<command_line, int> parse_command_line(int argc, const char* const* argv) {
  command_line out;
  CLI::App app{
      "echod: a pre-forked TCP echo server (master + workers, each a pool of coroutine "
      "schedulers over io_uring or epoll).\nSignals to the master: TERM/INT graceful stop, HUP "
      "reload, USR1 log counters.",
      "echod"};
  app.set_version_flag("--version", std::string("echod ") + ECHOD_VERSION);
  app.add_option("-c,--config", out.config_path,
                 "JSON config file (without it: the built-in defaults, like {})")
      ->type_name("FILE");
  app.add_option("--set", out.overrides,
                 "override one config field after the file is read: key=value, e.g. "
                 "--set processes=4 --set http.max_body_bytes=4MiB (repeatable)")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--check-config", out.check_config,
               "validate the config (file and --set), print the verdict, and exit");
  app.add_flag("--print-config", out.print_config,
               "print the effective config (every field) as JSON, and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version: printed to stdout
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // the message and a hint, on stderr
    return exit_code::usage;
  }
  return out;
}

}  // namespace echod::server
