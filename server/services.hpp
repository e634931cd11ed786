// The services a connection can run (config field "service"), in one table. A service is a plain
// function run in the connection's own coroutine: it loops read -> respond -> write on the
// connection until the input ends or an error, then returns; the connection does the rest
// (half-close, lingering, counting, closing). See services.cpp for how to add one.
#pragma once

#include "config/choices.hpp"

namespace echod::server {

class connection;

using service_fn = void (*)(connection&);

struct service {
  config::service_kind kind;  ///< the config value ("service": config::name_of(kind))
  service_fn serve;
};

/// The service of `kind`: every service_kind has one (services.cpp checks at compile time).
const service& find_service(config::service_kind kind);

/// Every byte back in order, ASCII a-z uppercased (Python's bytes.upper()).
void serve_upper(connection& c);
/// Every byte back unchanged.
void serve_echo(connection& c);
/// HTTP/1.1 keep-alive and pipelining over server::http::engine (limits from config "http").
void serve_http(connection& c);

}  // namespace echod::server
