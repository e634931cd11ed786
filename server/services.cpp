// The service table and the three services.
//
// Adding a service (say "reverse"):
//   1. write `void serve_reverse(connection& c)` below: loop { n = c.read(buf, size); if (n <= 0)
//      return; ...; if (!c.write(out, m)) return; }. Use c.buffer() for input and keep any other
//      state in locals (they live on the connection's coroutine stack, config stack_size): no
//      allocation per message, no locks, no blocking calls other than c.read / c.write;
//   2. declare it in services.hpp and add {"reverse", serve_reverse} to the table;
//   3. add "reverse" to the choices of "service" in config/server_config.cpp (and FIELDS.md);
//   4. add an integration test in tests/server/service_test.cpp.
// The connection handles the rest: idle timeout, counters, half-close, stop and reload.
#include "server/services.hpp"

#include <string>

#include "server/connection.hpp"
#include "server/http/http_engine.hpp"
#include "server/upper.hpp"

namespace echod::server {
namespace {

constexpr service table[] = {
    {"upper", serve_upper},
    {"echo", serve_echo},
    {"http", serve_http},
};

}  // namespace

std::span<const service> services() { return table; }

const service* find_service(std::string_view name) {
  for (const service& s : table) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void serve_upper(connection& c) {
  char* buf = c.buffer();
  const std::size_t size = c.buffer_size();
  for (;;) {
    const io::io_result n = c.read(buf, size);
    if (n <= 0) return;
    upper_in_place(buf, static_cast<std::size_t>(n));
    if (!c.write(buf, static_cast<std::size_t>(n))) return;
  }
}

void serve_echo(connection& c) {
  char* buf = c.buffer();
  const std::size_t size = c.buffer_size();
  for (;;) {
    const io::io_result n = c.read(buf, size);
    if (n <= 0) return;
    if (!c.write(buf, static_cast<std::size_t>(n))) return;
  }
}

void serve_http(connection& c) {
  const auto& limits = c.config().http;
  http::engine engine(
      http::limits{.max_header_bytes = static_cast<std::size_t>(limits.max_header_bytes),
                   .max_body_bytes = static_cast<std::size_t>(limits.max_body_bytes)});
  std::string out;  // responses; its capacity is reused for the connection's life
  char* buf = c.buffer();
  const std::size_t size = c.buffer_size();
  for (;;) {
    const io::io_result n = c.read(buf, size);
    if (n < 0) return;
    if (c.draining()) engine.end_keep_alive();
    const bool keep =
        n == 0 ? engine.on_eof(out) : engine.on_data({buf, static_cast<std::size_t>(n)}, out);
    if (!out.empty() && !c.write(out.data(), out.size())) return;
    out.clear();
    if (!keep) return;
  }
}

}  // namespace echod::server
