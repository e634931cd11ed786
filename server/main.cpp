// echod's entry point: parse the command line, load and validate the config (errors end here,
// with exit code 2, before anything is opened or forked), then either answer --check-config /
// --print-config or hand over to the master.
#include <cstdio>
#include <utility>
#include <variant>

#include "config/server_config.hpp"
#include "server/cli.hpp"
#include "server/exit_codes.hpp"
#include "server/master.hpp"
#include "server/process_title.hpp"

int main(int argc, char** argv) {
  using namespace echod;
  auto self = server::capture_own_command(argc, argv);  // before the title rewrites argv
  server::init_process_title(argc, argv);
  const auto parsed = server::parse_command_line(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  const auto& cli = std::get<server::command_line>(parsed);

  const server::config_source source{cli.config_path, cli.overrides};
  config::server_config cfg;
  try {
    cfg = server::load_config(source);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "echod: %s\n", e.what());
    return server::exit_code::usage;
  }
  if (cli.print_config) std::printf("%s\n", config::to_json(cfg).c_str());
  if (cli.check_config) {
    std::printf("echod: config OK (%s)\n",
                cli.config_path.empty() ? "built-in defaults" : cli.config_path.c_str());
  }
  if (cli.print_config || cli.check_config) return server::exit_code::ok;
  return server::run_master(source, cfg, std::move(self));
}
