// The master's admin endpoint: a tiny HTTP/1.x server inside the master's poll() loop, for
// monitoring (GET /metrics, /health, /stats; see metrics.hpp). Each connection carries one
// request: read it (at most max_request_bytes), answer with `Connection: close`, close. Every
// socket is non-blocking, so a client never holds up supervision. A flood of silent or slow
// clients must not starve a health checker either: there are many slots (up to max_connections,
// fewer under a low descriptor limit), a request must arrive within header_deadline, and when
// every slot is taken a new client takes the slot of the oldest connection that has not yet
// delivered its request. No keep-alive, no TLS, no authentication: bind it to loopback.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <span>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "io/socket.hpp"
#include "server/metrics.hpp"

namespace echod::server {

class admin_server {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t max_request_bytes = 8192;  ///< request line plus headers
  /// From accept to the end of the request's headers: a scraper sends at once.
  static constexpr std::chrono::seconds header_deadline{1};
  /// From the end of the request to the last byte of the answer taken by the client.
  static constexpr std::chrono::seconds response_deadline{5};
  /// The most connections open at once; fewer when the descriptor limit is low (see slots_).
  static constexpr std::size_t max_connections = 1024;

  /// `snapshot` is called once per /metrics, /health or /stats request.
  explicit admin_server(std::function<master_snapshot()> snapshot);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  /// A listening socket for `spec` ("127.0.0.1:7008"), or why not, naming the endpoint, the call
  /// and the address ("admin endpoint: bind 127.0.0.1:7008: Address already in use").
  static config::result<io::listener> open(const std::string& spec);
  /// Whether two `admin` config values name the same socket, so a reload keeps it (and its
  /// ephemeral port): "localhost:0" and "127.0.0.1:0" do; "" (disabled) equals only "".
  static bool same_address(const std::string& a, const std::string& b);

  /// Serves on `l` from now on; an invalid `l` disables the endpoint. The previous socket is
  /// closed; requests already accepted on it are still answered. Logs "admin endpoint on
  /// HOST:PORT" (the bound port) or "admin endpoint disabled", and warns when not on loopback.
  void serve(io::listener l);
  bool enabled() const { return listener_.valid(); }
  /// The bound address ("127.0.0.1:7008"), or "" when disabled.
  const std::string& address() const { return address_; }

  /// Appends the descriptors to poll. Pass the same entries, with their revents, to handle()
  /// once poll() has returned (a serve() in between is fine: entries of a replaced listener are
  /// ignored).
  void add_pollfds(std::vector<pollfd>& fds);
  /// Accepts, reads, answers and closes what is ready; closes connections past their deadline.
  void handle(std::span<const pollfd> fds);
  /// The earliest connection deadline (or accept retry), or clock::time_point::max().
  clock::time_point next_deadline() const;

  /// In a freshly forked child: closes every descriptor of the endpoint, nothing else.
  void close_after_fork();

 private:
  struct connection;
  void accept_ready(clock::time_point now);
  void on_readable(connection& c);
  void on_writable(connection& c);
  void respond(connection& c, int status);
  void finish(connection& c);
  // Closes the oldest connection still waiting for its request; false when there is none.
  bool evict_oldest_incomplete();

  std::function<master_snapshot()> snapshot_;
  io::listener listener_;
  std::string address_;
  // How many connections may be open at once: max_connections, or a quarter of the descriptor
  // limit (at least 16) when that is less, so a flood of admin clients never takes the
  // descriptors the master needs for workers' ready pipes and for listeners on reload.
  std::size_t slots_;
  std::list<connection> connections_;  // oldest first
  std::size_t open_ = 0;               // entries of connections_ not yet finished
  std::vector<connection*> polled_;    // what add_pollfds() added after the listener, in order
  bool listener_polled_ = false;
  clock::time_point accept_paused_until_{};  // after EMFILE & co: retry then, not in a busy loop
};

}  // namespace echod::server
