// libFuzzer target: the two host:port parsers, config::parse_host_port (what --check-config
// accepts) and io::address::parse (what the listeners bind). Neither may crash, and they must
// agree: a listen address the config check passes must bind, to the same canonical address,
// and a parsed address must print as text that parses back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/host_port.hpp"
#include "io/address.hpp"

namespace {

[[noreturn]] void fail(std::string_view input, const char* what, const std::string& detail) {
  std::fprintf(stderr, "host:port \"%.*s\": %s: %s\n", static_cast<int>(input.size()), input.data(),
               what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto hp = echod::config::parse_host_port(text);
  const auto addr = echod::io::address::parse(text);
  if (hp.ok() != addr.ok()) {
    fail(text,
         hp ? "the config check accepts what the listener rejects"
            : "the listener accepts what the config check rejects",
         hp ? addr.error() : hp.error());
  }
  if (!hp) {
    if (hp.error().empty() || addr.error().empty()) fail(text, "rejected without a reason", "");
    return 0;
  }
  const std::string printed = addr->to_string();
  if (printed != hp->canonical()) fail(text, "the parsers disagree on the address", printed);
  const auto again = echod::io::address::parse(printed);
  if (!again || again->to_string() != printed) fail(text, "does not parse back", printed);
  const auto hp_again = echod::config::parse_host_port(hp->canonical());
  if (!hp_again || hp_again->canonical() != hp->canonical()) {
    fail(text, "the canonical form does not parse back", hp->canonical());
  }
  return 0;
}
