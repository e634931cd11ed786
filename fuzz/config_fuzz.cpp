// libFuzzer target: the server config reader (config/) on arbitrary text. Any input must end in
// a config or a config_error (the only exception the reader may throw: the master turns it into
// "reload failed: ...; keeping the current config"). A config that reads must print
// (--print-config) as JSON that reads back to the same config.
//
// Input layout: text before the first NUL byte, if any, is "--set key=value" overrides, one a
// line; the rest is the config file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_error.hpp"
#include "config/server_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    std::string_view sets = text.substr(0, nul);
    text.remove_prefix(nul + 1);
    while (!sets.empty()) {
      const auto eol = sets.find('\n');
      overrides.emplace_back(sets.substr(0, eol));
      sets.remove_prefix(eol == std::string_view::npos ? sets.size() : eol + 1);
    }
  }
  echod::config::server_config config;
  try {
    config = echod::config::parse_server_config(text, "<fuzz>", overrides);
  } catch (const echod::config::config_error&) {
    return 0;
  }
  const std::string printed = echod::config::to_json(config);
  try {
    if (echod::config::parse_server_config(printed, "<printed>") == config) return 0;
    std::fprintf(stderr, "config: --print-config reads back as a different config:\n%s\n",
                 printed.c_str());
  } catch (const echod::config::config_error& e) {
    std::fprintf(stderr, "config: --print-config does not read back: %s\n%s\n", e.what(),
                 printed.c_str());
  }
  std::abort();
}
