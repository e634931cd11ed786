// The service table and the three services.
//
// Adding a service (say "reverse"):
//   1. write `void serve_reverse(connection& c, const service_options&)` below: io::received in;
//      loop { if (c.receive(in) <= 0) return; for each chunk of in.chunks(): transform
//      chunk.data[0..size) in place; if (!c.write(in)) return; in.clear(); }. The chunks are the
//      thread's buffers, lent (nothing is copied); one receive takes every chunk already there, so
//      the replies to pipelined messages leave in one send. A reply of another size goes out of a
//      local buffer with c.write(data, len) (as http does). Keep any other state in locals (they
//      live on the connection's coroutine stack, config stack_size): no allocation per message,
//      no locks, no blocking calls other than c.receive / c.write;
//   2. declare it in services.hpp; settings of its own go in a member of service_options, filled
//      once per worker by make_worker_options() (worker_options.cpp);
//   3. add `reverse` to service_kind and its names in config/choices.hpp, and
//      {service_kind::reverse, serve_reverse} to the table below, in the enum's order (the build
//      fails otherwise), and `reverse` to FIELDS.md;
//   4. add an integration test in tests/server/service_test.cpp.
// The connection handles the rest: idle timeout, counters, half-close, stop and reload.
#include "server/services.hpp"

#include <cstddef>
#include <iterator>
#include <string>

#include "server/connection.hpp"
#include "server/http/http_engine.hpp"
#include "transform/upper.hpp"

namespace echod::server {
namespace {

// The HTTP deadlines (http.*_timeout, http.body_min_rate), as changes to the connection's read
// deadline at each step of a request: no timer of their own, and a clock read only when a
// request's head or body spans reads.
//   head: within header_timeout of its first byte (the first request's: of the accept, since a
//         client connects to send it), however the bytes trickle in;
//   body: within body_timeout of the head's end, plus 1 s per body_min_rate bytes received;
//   between requests: the next first byte within keepalive_timeout of the last response.
class http_deadlines {
 public:
  http_deadlines(connection& c, const http_options& o)
      : c_(c),
        header_(o.header_timeout),
        body_(o.body_timeout),
        min_rate_(static_cast<double>(o.body_min_rate)),
        idle_(c.idle_timeout()) {
    // Between requests the shorter of the keep-alive wait and the idle timeout applies.
    const runtime::clock::duration keepalive = o.keepalive_timeout;
    if (idle_ == runtime::clock::duration::zero() || keepalive <= idle_) {
      keepalive_ = keepalive;
      keepalive_kind_ = wait_kind::keepalive;
    } else {
      keepalive_ = idle_;
      keepalive_kind_ = wait_kind::idle;
    }
    c_.set_deadline(runtime::deadline_after(header_), wait_kind::header);
  }

  /// After the engine took `n` more bytes.
  void after(const http::engine& e, std::size_t n) {
    using stage = http::engine::stage;
    const stage now_at = e.current_stage();
    if (e.requests() == requests_ && now_at == at_) {
      if (at_ == stage::body) {
        body_bytes_ += n;
        set_body_deadline();
      }
      return;
    }
    requests_ = e.requests();
    at_ = now_at;
    switch (now_at) {
      case stage::idle:
        c_.set_wait_limit(keepalive_, keepalive_kind_);
        c_.set_deadline(runtime::no_deadline, wait_kind::idle);
        break;
      case stage::head:
        c_.set_wait_limit(idle_, wait_kind::idle);
        c_.set_deadline(runtime::deadline_after(header_), wait_kind::header);
        break;
      case stage::body:
        c_.set_wait_limit(idle_, wait_kind::idle);
        body_start_ = runtime::clock::now();
        body_bytes_ = 0;
        set_body_deadline();
        break;
    }
  }

 private:
  void set_body_deadline() {
    if (body_ == runtime::clock::duration::zero()) {
      return c_.set_deadline(runtime::no_deadline, wait_kind::body);
    }
    auto allowed = body_;
    if (min_rate_ > 0)
      allowed += runtime::from_seconds(static_cast<double>(body_bytes_) / min_rate_);
    c_.set_deadline(body_start_ + allowed, wait_kind::body);
  }

  connection& c_;
  const runtime::clock::duration header_, body_;
  const double min_rate_;
  const runtime::clock::duration idle_;
  runtime::clock::duration keepalive_;
  wait_kind keepalive_kind_;
  std::uint64_t requests_ = 0;
  // The first request's head is timed from the accept (the constructor), as if it had begun.
  http::engine::stage at_ = http::engine::stage::head;
  runtime::deadline body_start_{};
  std::uint64_t body_bytes_ = 0;
};

// Indexed by service_kind.
constexpr service table[] = {
    {config::service_kind::upper, serve_upper},
    {config::service_kind::echo, serve_echo},
    {config::service_kind::http, serve_http},
};

// One entry per service_kind (the enum has as many values as config spells names), each at its
// own index. (Not checked here: that each names a function; under -fsanitize GCC cannot compare a
// function's address with nullptr at compile time. The unit test calls find_service per kind.)
constexpr bool indexed_by_kind() {
  if (std::size(table) != config::choice_names<config::service_kind>::names.size()) return false;
  for (std::size_t i = 0; i < std::size(table); ++i) {
    if (static_cast<std::size_t>(table[i].kind) != i) return false;
  }
  return true;
}
static_assert(indexed_by_kind(),
              "the service table must have one entry per service_kind, in order");

}  // namespace

const service& find_service(config::service_kind kind) {
  return table[static_cast<std::size_t>(kind)];
}

void serve_upper(connection& c, const service_options&) {
  io::received in;
  for (;;) {
    if (c.receive(in) <= 0) return;
    for (const io::chunk& ch : in.chunks()) transform::upper_in_place(ch.data, ch.size);
    if (!c.write(in)) return;
    in.clear();
  }
}

void serve_echo(connection& c, const service_options&) {
  io::received in;
  for (;;) {
    if (c.receive(in) <= 0) return;
    if (!c.write(in)) return;
    in.clear();
  }
}

void serve_http(connection& c, const service_options& options) {
  const http_options& o = options.http;
  http::engine engine(o.limits);
  std::string out;  // responses; its capacity is reused for the connection's life
  http_deadlines deadlines(c, o);
  io::received in;
  for (;;) {
    const io::io_result n = c.receive(in);
    if (n < 0) return;
    if (c.draining()) engine.end_keep_alive();
    // Every chunk already received, then one send of all their responses.
    bool keep = true;
    if (n == 0) keep = engine.on_eof();
    for (const io::chunk& ch : in.chunks()) {
      keep = engine.on_data({ch.data, ch.size}, out);
      if (!keep) break;
      deadlines.after(engine, ch.size);
    }
    in.clear();
    if (!out.empty() && !c.write(out.data(), out.size())) return;
    out.clear();
    if (!keep) return;
  }
}

}  // namespace echod::server
