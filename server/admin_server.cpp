#include "server/admin_server.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

#include "config/host_port.hpp"
#include "io/address.hpp"
#include "server/http/http_parse.hpp"
#include "server/http/line_reader.hpp"
#include "server/http/status.hpp"

namespace echod::server {

using namespace std::chrono_literals;

// After EMFILE, ENFILE or ENOBUFS the pending connection stays queued and poll() would report it
// again at once: wait this long before the next accept instead of spinning.
constexpr auto accept_retry = 100ms;
// The admin socket's listen(2) backlog: where clients wait between two turns of the master's
// loop. The loop accepts until the queue is empty (evicting when the slots are full), so this
// only needs to absorb a burst; a full queue would make a new client wait for a SYN retry (1 s).
constexpr int admin_backlog = 1024;
// The fewest slots, however low the descriptor limit.
constexpr std::size_t min_slots = 16;

struct admin_server::connection {
  explicit connection(int fd_, clock::time_point deadline_) : fd(fd_), deadline(deadline_) {}

  int fd;
  clock::time_point deadline;  // header_deadline until the request is whole, then response
  http::line_reader lines;
  std::size_t received = 0;
  bool have_request_line = false;
  http::method verb = http::method::other;
  int minor = 1;
  std::string target;
  unsigned hosts = 0;  // Host fields seen: HTTP/1.1 needs exactly one
  std::string out;     // the response, once known
  std::size_t sent = 0;
  bool done = false;  // closed: remove it
};

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

}  // namespace

// The master raises its descriptor limit (check_fd_limit) before it builds the endpoint.
admin_server::admin_server(std::function<master_snapshot()> snapshot)
    : snapshot_(std::move(snapshot)), slots_(slots_for_fd_limit()) {}

admin_server::~admin_server() {
  for (auto& c : connections_) ::close(c.fd);
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

void admin_server::serve(io::listener l) {
  const bool was_enabled = enabled();
  listener_ = std::move(l);
  address_ = listener_.valid() ? listener_.local_address().to_string() : "";
  accept_paused_until_ = {};
  if (!enabled()) {
    if (was_enabled) spdlog::info("admin endpoint disabled");
    return;
  }
  spdlog::info("admin endpoint on {}", address_);
  if (address_.rfind("127.", 0) != 0 && address_.rfind("[::1]:", 0) != 0) {
    spdlog::warn(
        "the admin endpoint on {} has no authentication and is reachable from other "
        "hosts: bind it to 127.0.0.1 unless that is intended",
        address_);
  }
}

void admin_server::add_pollfds(std::vector<pollfd>& fds) {
  polled_.clear();
  // Full slots do not stop accepting while some connection can be evicted for the newcomer.
  const bool room =
      open_ < slots_ || std::any_of(connections_.begin(), connections_.end(),
                                    [](const connection& c) { return c.out.empty(); });
  listener_polled_ = listener_.valid() && room && clock::now() >= accept_paused_until_;
  if (listener_polled_) fds.push_back(pollfd{listener_.fd(), POLLIN, 0});
  for (auto& c : connections_) {
    const short events = c.out.empty() ? POLLIN : POLLOUT;
    fds.push_back(pollfd{c.fd, events, 0});
    polled_.push_back(&c);
  }
}

void admin_server::handle(std::span<const pollfd> fds) {
  const auto now = clock::now();
  std::size_t i = 0;
  if (listener_polled_ && i < fds.size()) {
    if (fds[i].revents != 0 && fds[i].fd == listener_.fd()) accept_ready(now);
    ++i;
  }
  for (std::size_t k = 0; k < polled_.size() && i < fds.size(); ++k, ++i) {
    connection& c = *polled_[k];
    if (fds[i].revents == 0 || c.done) continue;
    if (c.out.empty()) {
      on_readable(c);
    } else {
      on_writable(c);
    }
  }
  polled_.clear();
  listener_polled_ = false;
  for (auto& c : connections_) {
    if (!c.done && now >= c.deadline) {
      spdlog::debug("admin: closing a connection that missed its {} deadline",
                    c.out.empty() ? "request" : "response");
      finish(c);
    }
  }
  connections_.remove_if([](const connection& c) { return c.done; });
}

admin_server::clock::time_point admin_server::next_deadline() const {
  auto next = clock::time_point::max();
  for (const auto& c : connections_) next = std::min(next, c.deadline);
  if (listener_.valid() && accept_paused_until_ > clock::now()) {
    next = std::min(next, accept_paused_until_);
  }
  return next;
}

void admin_server::close_after_fork() {
  if (listener_.valid()) ::close(listener_.release());
  for (auto& c : connections_) {
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
  }
  connections_.clear();
  open_ = 0;
}

void admin_server::accept_ready(clock::time_point now) {
  // At most a slot-full per turn: a flood that connects as fast as this accepts (evicting as it
  // goes) must not keep the master from its signals and workers.
  for (std::size_t accepted = 0; accepted < slots_;) {
    if (open_ >= slots_ && !evict_oldest_incomplete()) return;  // the rest wait in the backlog
    const int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      ++accepted;
      ++open_;
      connection& c = connections_.emplace_back(fd, now + header_deadline);
      on_readable(c);  // try first: the request is often there already
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    // Out of descriptors: a silent client's descriptor is worth less than a new request.
    if ((errno == EMFILE || errno == ENFILE) && evict_oldest_incomplete()) continue;
    spdlog::warn("admin endpoint: accept: {}; retrying in {} ms", std::strerror(errno),
                 std::chrono::duration_cast<std::chrono::milliseconds>(accept_retry).count());
    accept_paused_until_ = now + accept_retry;
    return;
  }
}

bool admin_server::evict_oldest_incomplete() {
  for (auto& c : connections_) {
    if (!c.done && c.out.empty()) {
      spdlog::debug("admin: all {} slots taken: closing the oldest connection without a request",
                    slots_);
      finish(c);
      return true;
    }
  }
  return false;
}

void admin_server::on_readable(connection& c) {
  char buf[4096];
  while (c.out.empty()) {
    // One byte past the limit is enough to know the request is too large.
    const std::size_t room = std::min(sizeof buf, max_request_bytes + 1 - c.received);
    const ssize_t n = ::recv(c.fd, buf, room, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      // The client left (or reset) before a whole request: answer a partial one if it still
      // reads, say nothing to one that sent nothing.
      if (n == 0 && c.received > 0) {
        respond(c, 400);
      } else {
        finish(c);
      }
      return;
    }
    c.received += static_cast<std::size_t>(n);
    const char* p = buf;
    const char* end = buf + n;
    while (c.out.empty() && p < end) {
      std::string_view line;
      switch (c.lines.next(p, end, max_request_bytes, line)) {
        case http::line_reader::result::partial:
          break;
        case http::line_reader::result::too_long:
          respond(c, 431);
          return;
        case http::line_reader::result::bad_eol:
          respond(c, 400);
          return;
        case http::line_reader::result::line:
          if (!c.have_request_line) {
            http::request_line rl;
            const int status = http::parse_request_line(line, rl);
            if (status != 0) return respond(c, status);
            c.have_request_line = true;
            c.verb = rl.verb;
            c.minor = rl.minor;
            c.target = rl.target;
          } else if (line.empty()) {
            return respond(c, 0);  // the end of the headers: the request is whole
          } else {
            http::header_field f;
            if (!http::parse_header_line(line, f)) return respond(c, 400);
            if (http::iequals(f.name, "host")) ++c.hosts;
          }
          break;
      }
    }
    if (c.out.empty() && c.received > max_request_bytes) return respond(c, 431);
  }
}

// `status` 0: a whole request to route; otherwise the error to answer.
void admin_server::respond(connection& c, int status) {
  const bool head = c.verb == http::method::head;
  std::string_view path = c.target;
  path = path.substr(0, path.find('?'));
  if (status == 0 && c.minor == 1 && c.hosts != 1) status = 400;  // RFC 9112 §3.2
  if (status == 0 && c.verb != http::method::get && !head) status = 405;
  if (status != 0) {
    const std::string body = std::string(http::reason_phrase(status)) + "\n";
    c.out = response(status, text_plain, body, !head);
  } else if (path == "/metrics") {
    status = 200;
    c.out = response(200, prometheus_content_type, render_prometheus(snapshot_()), !head);
  } else if (path == "/health") {
    const master_snapshot s = snapshot_();
    status = s.unhealthy.empty() ? 200 : 503;
    c.out = response(status, text_plain, render_health(s), !head);
  } else if (path == "/stats") {
    status = 200;
    c.out = response(200, "application/json", render_json(snapshot_()), !head);
  } else {
    status = 404;
    c.out = response(404, text_plain, "not found; try /metrics, /health or /stats\n", !head);
  }
  spdlog::debug("admin: {} -> {}", c.target, status);
  c.deadline = clock::now() + response_deadline;
  on_writable(c);
}

void admin_server::on_writable(connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // poll for POLLOUT
    if (n <= 0) break;
    c.sent += static_cast<std::size_t>(n);
  }
  finish(c);
}

void admin_server::finish(connection& c) {
  if (c.done) return;
  if (!c.out.empty()) {
    // FIN after the response; then drop what the client sent beyond the request, so close()
    // does not answer unread bytes with a reset that could destroy the response in flight.
    ::shutdown(c.fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(c.fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
  }
  ::close(c.fd);
  c.fd = -1;
  c.done = true;
  --open_;
}

}  // namespace echod::server
