#include "server/admin_server.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "config/host_port.hpp"
#include "io/address.hpp"
#include "io/reactor.hpp"
#include "server/http/http_parse.hpp"
#include "server/http/line_reader.hpp"
#include "server/http/status.hpp"

namespace echod::server {

using namespace std::chrono_literals;

// After EMFILE, ENFILE or ENOBUFS with nothing to evict, the pending connection stays queued:
// wait this long before the next accept instead of spinning.
constexpr auto accept_retry = 100ms;
// The admin socket's listen(2) backlog: where clients wait while the acceptor works through a
// burst. It accepts until the queue is empty (evicting when the slots are full), so this only
// needs to absorb a burst; a full queue would make a new client wait for a SYN retry (1 s).
constexpr int admin_backlog = 1024;
// The fewest slots, however low the descriptor limit.
constexpr std::size_t min_slots = 16;

namespace {

// A complete response; HEAD keeps the headers (and the GET body's Content-Length) only.
std::string response(int status, std::string_view content_type, std::string_view body,
                     bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  out.append(http::reason_phrase(status)).append("\r\nContent-Type: ").append(content_type);
  out.append("\r\nContent-Length: ").append(std::to_string(body.size()));
  out.append("\r\nCache-Control: no-store\r\nConnection: close\r\n");
  if (status == 405) out.append("Allow: GET, HEAD\r\n");
  out.append("\r\n");
  if (with_body) out.append(body);
  return out;
}

constexpr std::string_view text_plain = "text/plain; charset=utf-8";

std::size_t slots_for_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) {
    return admin_server::max_connections;
  }
  return std::clamp<std::size_t>(static_cast<std::size_t>(rl.rlim_cur / 4), min_slots,
                                 admin_server::max_connections);
}

// One request as read so far.
struct request {
  bool have_request_line = false;
  http::method verb = http::method::other;
  int minor = 1;
  std::string target;
  unsigned hosts = 0;  // Host fields seen: HTTP/1.1 needs exactly one
};

// Reads `fd` until the request's headers end: 0 (a whole request to route), the HTTP error to
// answer, or -1 for a client to close without a word (it left, sent nothing, or missed
// `until`; or the endpoint is stopping or evicted it).
int read_request(io::reactor& r, io::fd_slot& fd, runtime::deadline until, request& req) {
  http::line_reader lines;
  std::size_t received = 0;
  char buf[4096];
  for (;;) {
    // One byte past the limit is enough to know the request is too large.
    const std::size_t room = std::min(sizeof buf, admin_server::max_request_bytes + 1 - received);
    const io::io_result n = r.read_some(fd, buf, room, until);
    if (n == -ETIMEDOUT) spdlog::debug("admin: closing a connection that missed its deadline");
    // The client left (or reset) before a whole request: answer a partial one if it still
    // reads, say nothing to one that sent nothing.
    if (n == 0) return received > 0 ? 400 : -1;
    if (n < 0) return -1;
    received += static_cast<std::size_t>(n);
    const char* p = buf;
    const char* end = buf + n;
    while (p < end) {
      std::string_view line;
      switch (lines.next(p, end, admin_server::max_request_bytes, line)) {
        case http::line_reader::result::partial:
          break;
        case http::line_reader::result::too_long:
          return 431;
        case http::line_reader::result::bad_eol:
          return 400;
        case http::line_reader::result::line:
          if (!req.have_request_line) {
            http::request_line rl;
            if (const int status = http::parse_request_line(line, rl); status != 0) return status;
            req.have_request_line = true;
            req.verb = rl.verb;
            req.minor = rl.minor;
            req.target = rl.target;
          } else if (line.empty()) {
            return 0;  // the end of the headers: the request is whole
          } else {
            http::header_field f;
            if (!http::parse_header_line(line, f)) return 400;
            if (http::iequals(f.name, "host")) ++req.hosts;
          }
          break;
      }
    }
    if (received > admin_server::max_request_bytes) return 431;
  }
}

// The answer to `req`; `status` 0: a whole request to route, otherwise the error to answer.
std::string answer(const request& req, int status,
                   const std::function<master_snapshot()>& snapshot) {
  const bool head = req.verb == http::method::head;
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  if (status == 0 && req.minor == 1 && req.hosts != 1) status = 400;  // RFC 9112 §3.2
  if (status == 0 && req.verb != http::method::get && !head) status = 405;
  std::string out;
  if (status != 0) {
    const std::string body = std::string(http::reason_phrase(status)) + "\n";
    out = response(status, text_plain, body, !head);
  } else if (path == "/metrics") {
    status = 200;
    out = response(200, prometheus_content_type, render_prometheus(snapshot()), !head);
  } else if (path == "/health") {
    const master_snapshot s = snapshot();
    status = s.unhealthy.empty() ? 200 : 503;
    out = response(status, text_plain, render_health(s), !head);
  } else if (path == "/stats") {
    status = 200;
    out = response(200, "application/json", render_json(snapshot()), !head);
  } else {
    status = 404;
    out = response(404, text_plain, "not found; try /metrics, /health or /stats\n", !head);
  }
  spdlog::debug("admin: {} -> {}", req.target, status);
  return out;
}

// Sends all of `out` by `until`; false if the client did not take it in time or went away.
bool send_all(io::reactor& r, io::fd_slot& fd, std::string_view out, runtime::deadline until) {
  while (!out.empty()) {
    const io::io_result n = r.write_some(fd, out.data(), out.size(), until);
    if (n <= 0) return false;
    out.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

// The master raises its descriptor limit (check_fd_limit) before it builds the endpoint.
admin_server::admin_server(runtime::scheduler& sched, std::function<master_snapshot()> snapshot)
    : sched_(sched), snapshot_(std::move(snapshot)), slots_(slots_for_fd_limit()) {}

admin_server::~admin_server() {
  // Once the scheduler has run to its end every coroutine has closed its own socket; this is for
  // an endpoint whose scheduler never ran.
  close_after_fork();
}

config::result<io::listener> admin_server::open(const std::string& spec) {
  const auto at = io::address::parse(spec);
  if (!at) return config::failure{"admin endpoint: " + spec + ": " + at.error()};
  io::listen_options opts;
  opts.backlog = admin_backlog;
  try {
    return io::listener::open(*at, opts);  // SOCK_NONBLOCK | SOCK_CLOEXEC
  } catch (const std::system_error& e) {
    // A bind that fails here (port taken, no permission) is an expected failure of setup: told
    // like a bad address, as the reason (config/result.hpp).
    return config::failure{std::string("admin endpoint: ") + e.what()};
  }
}

bool admin_server::same_address(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a.empty() && b.empty();
  const auto x = config::parse_host_port(a);
  const auto y = config::parse_host_port(b);
  return x && y ? x->canonical() == y->canonical() : a == b;
}

void admin_server::stop_acceptor() {
  if (acceptor_ == nullptr) return;
  // Closed by its acceptor: cancelled, that may still be about to run with a wake-up for it, so
  // the descriptor must stay its own until it ends.
  sched_.cancel(std::exchange(acceptor_, nullptr));
  replaced_.push_back(std::exchange(listen_fd_, -1));
}

void admin_server::hand_over() {
  stop_acceptor();
  address_.clear();
}

void admin_server::serve(io::listener l) {
  const bool was_enabled = enabled();
  // Shut down now, so the port refuses from this moment (Linux stops a listener on SHUT_RD).
  if (acceptor_ != nullptr) ::shutdown(listen_fd_, SHUT_RDWR);
  stop_acceptor();
  address_ = l.valid() ? l.local_address().to_string() : "";
  if (!l.valid()) {
    if (was_enabled) spdlog::info("admin endpoint disabled");
    return;
  }
  listen_fd_ = l.release();
  acceptor_ = sched_.spawn([this, fd = listen_fd_] { accept_loop(fd); });
  spdlog::info("admin endpoint on {}", address_);
  if (address_.rfind("127.", 0) != 0 && address_.rfind("[::1]:", 0) != 0) {
    spdlog::warn(
        "the admin endpoint on {} has no authentication and is reachable from other "
        "hosts: bind it to 127.0.0.1 unless that is intended",
        address_);
  }
}

void admin_server::close_after_fork() {
  if (listen_fd_ >= 0) ::close(std::exchange(listen_fd_, -1));
  for (const int fd : replaced_) ::close(fd);
  replaced_.clear();
  for (auto& c : connections_) {
    if (c.fd >= 0) ::close(std::exchange(c.fd, -1));
  }
}

void admin_server::accept_loop(int listen_fd) {
  io::reactor& r = io::reactor::current();
  io::fd_slot listener(listen_fd);
  r.add_listener(listener, io::acceptors::one);
  for (;;) {
    if (busy_slots() >= slots_ && !evict_oldest_incomplete()) {
      // Every slot holds a request being answered: the next client waits in the backlog.
      slot_waiter_ = runtime::scheduler::current_coroutine();
      const auto why = sched_.park();
      slot_waiter_ = nullptr;
      if (why == runtime::wake_reason::cancelled) break;
      continue;
    }
    const int fd = r.accept(listener, runtime::no_deadline);
    // serve() replaced the socket (an accept woken before that fails on the shut-down socket),
    // or the master is stopping.
    if (fd < 0 && (fd == -ECANCELED || sched_.cancelled(sched_.current_coroutine()))) break;
    if (fd >= 0) {
      auto c = connections_.insert(connections_.end(), connection{fd});
      c->coro = sched_.spawn([this, c] { serve_connection(c); });
      // The new connection runs before the next accept: its request is often there already,
      // and once it is read the connection can no longer be evicted by the clients behind it.
      sched_.yield();
      continue;
    }
    // Out of descriptors: a silent client's descriptor is worth less than a new request. The
    // evicted connection runs first (it is ahead in the run queue) and closes its socket.
    if ((fd == -EMFILE || fd == -ENFILE) && evict_oldest_incomplete()) {
      sched_.yield();
      continue;
    }
    spdlog::warn("admin endpoint: accept: {}; retrying in {} ms", io::error_text(fd),
                 std::chrono::duration_cast<std::chrono::milliseconds>(accept_retry).count());
    if (sched_.sleep_for(accept_retry) == runtime::wake_reason::cancelled) break;
  }
  listener.forget();
  ::close(listen_fd);
  if (listen_fd_ == listen_fd) {
    listen_fd_ = -1;  // stopping
  } else {
    std::erase(replaced_, listen_fd);
  }
}

void admin_server::serve_connection(conn_iter c) {
  io::reactor& r = io::reactor::current();
  // However the coroutine ends (answered, timed out, evicted, stopped, or unwound by the
  // scheduler's destructor), it closes its socket, its entry goes and a waiting acceptor hears
  // of the free slot. Only this coroutine ever touches the socket: one evicted or stopped is
  // cancelled, and its reads and writes end with -ECANCELED.
  struct cleanup {
    admin_server& s;
    conn_iter c;
    ~cleanup() {
      if (c->fd >= 0) ::close(c->fd);  // `slot` below has ended its registration
      if (c->evicted) --s.evicting_;
      s.connections_.erase(c);
      if (s.slot_waiter_ != nullptr) s.sched_.wake(s.slot_waiter_);
    }
  } guard{*this, c};
  io::fd_slot slot(c->fd);  // destroyed first: unregistered before the close
  request req;
  const int status = read_request(r, slot, runtime::clock::now() + header_deadline, req);
  if (status < 0) return;
  c->whole = true;
  const std::string out = answer(req, status, snapshot_);
  if (!send_all(r, slot, out, runtime::clock::now() + response_deadline)) return;
  // FIN after the response; then drop what the client sent beyond the request, so close() does
  // not answer unread bytes with a reset that could destroy the response in flight.
  ::shutdown(c->fd, SHUT_WR);
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
}

bool admin_server::evict_oldest_incomplete() {
  for (auto& c : connections_) {
    if (c.whole || c.evicted) continue;
    spdlog::debug("admin: all {} slots taken: closing the oldest connection without a request",
                  slots_);
    c.evicted = true;
    ++evicting_;
    sched_.cancel(c.coro);
    return true;
  }
  return false;
}

}  // namespace echod::server
