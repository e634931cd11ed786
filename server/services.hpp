// The services a connection can run (config field "service"), in one table. A service is a plain
// function run in the connection's own coroutine: it loops read -> respond -> write on the
// connection until the input ends or an error, then returns; the connection does the rest
// (half-close, lingering, counting, closing). See services.cpp for how to add one.
#pragma once

#include <cstdint>

#include "config/choices.hpp"
#include "runtime/clock.hpp"
#include "server/http/http_engine.hpp"

namespace echod::server {

class connection;

/// The HTTP service's own options (config "http"): the engine's size limits and the deadlines of
/// each step of a request (see services.cpp).
struct http_options {
  http::limits limits;
  runtime::clock::duration header_timeout{};  ///< zero: none
  runtime::clock::duration body_timeout{};    ///< zero: none
  std::uint64_t body_min_rate = 0;            ///< body bytes that earn 1 s more; zero: none
  runtime::clock::duration keepalive_timeout{};
};

/// Every service's own options, built once per worker (make_worker_options()); each service reads
/// its own member only. upper and echo need none.
struct service_options {
  http_options http;
};

using service_fn = void (*)(connection&, const service_options&);

struct service {
  config::service_kind kind;  ///< the config value ("service": config::name_of(kind))
  service_fn serve;
};

/// The service of `kind`: every service_kind has one (services.cpp checks at compile time).
const service& find_service(config::service_kind kind);

/// Every byte back in order, ASCII a-z uppercased (Python's bytes.upper()).
void serve_upper(connection& c, const service_options&);
/// Every byte back unchanged.
void serve_echo(connection& c, const service_options&);
/// HTTP/1.1 keep-alive and pipelining over server::http::engine (options.http).
void serve_http(connection& c, const service_options& options);

}  // namespace echod::server
