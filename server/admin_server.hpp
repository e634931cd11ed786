// The master's admin endpoint: a tiny HTTP/1.x server on the master's scheduler, for monitoring
// (GET /metrics, /health, /stats; see metrics.hpp). One coroutine accepts; each connection is a
// coroutine that reads one request (at most max_request_bytes), answers with
// `Connection: close`, and closes. Every wait has a deadline, so a client never holds up
// supervision. A flood of silent or slow clients must not starve a health checker either: there
// are many slots (up to max_connections, fewer under a low descriptor limit), a request must
// arrive within header_deadline, and when every slot is taken (or accept runs out of
// descriptors) a new client takes the slot of the oldest connection that has not yet delivered
// its request. No keep-alive, no TLS, no authentication: bind it to loopback.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <vector>

#include "config/result.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"
#include "server/metrics.hpp"

namespace echod::server {

class admin_server {
 public:
  static constexpr std::size_t max_request_bytes = 8192;  ///< request line plus headers
  /// From accept to the end of the request's headers: a scraper sends at once.
  static constexpr std::chrono::seconds header_deadline{1};
  /// From the end of the request to the last byte of the answer taken by the client.
  static constexpr std::chrono::seconds response_deadline{5};
  /// The most connections open at once; fewer when the descriptor limit is low (see slots_).
  static constexpr std::size_t max_connections = 1024;

  /// Serves on `sched` (an epoll reactor's), which must outlive the coroutines this starts.
  /// `snapshot` is called once per /metrics, /health or /stats request.
  admin_server(runtime::scheduler& sched, std::function<master_snapshot()> snapshot);
  ~admin_server();
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  /// A listening socket for `spec` ("127.0.0.1:7008"), or why not, naming the endpoint, the call
  /// and the address ("admin endpoint: bind 127.0.0.1:7008: Address already in use").
  static config::result<io::listener> open(const std::string& spec);
  /// Whether two `admin` config values name the same socket, so a reload keeps it (and its
  /// ephemeral port): "localhost:0" and "127.0.0.1:0" do; "" (disabled) equals only "".
  static bool same_address(const std::string& a, const std::string& b);

  /// Serves on `l` from now on; an invalid `l` disables the endpoint. The previous socket stops
  /// listening at once (and closes as its acceptor ends; a worker forked meanwhile does not
  /// inherit it); requests already accepted on it are still answered. Logs "admin
  /// endpoint on HOST:PORT" (the bound port) or "admin endpoint disabled", and warns when not on
  /// loopback. On the scheduler's thread, inside or before its run().
  void serve(io::listener l);
  /// Stops serving without shutting the socket down, unlike serve(): another process serves on
  /// the same socket from now on (a new master, after a binary upgrade). Requests already
  /// accepted are still answered.
  void hand_over();
  bool enabled() const { return listen_fd_ >= 0; }
  /// The listening socket served, or -1 (what an upgrade hands to the new master).
  int listen_fd() const { return listen_fd_; }
  /// The bound address ("127.0.0.1:7008"), or "" when disabled.
  const std::string& address() const { return address_; }

  /// In a freshly forked child: closes every descriptor of the endpoint, nothing else.
  void close_after_fork();

 private:
  // What the acceptor needs to know of a connection to evict it.
  struct connection {
    int fd;
    runtime::coroutine* coro = nullptr;
    bool whole = false;    // its request has arrived: being answered, never evicted
    bool evicted = false;  // cancelled to free its slot: closes when its coroutine next runs
  };
  using conn_iter = std::list<connection>::iterator;

  // Cancels the acceptor; its socket closes as the acceptor ends.
  void stop_acceptor();
  void accept_loop(int listen_fd);
  void serve_connection(conn_iter c);
  // Cancels the oldest connection still waiting for its request; false when there is none.
  bool evict_oldest_incomplete();
  std::size_t busy_slots() const { return connections_.size() - evicting_; }

  runtime::scheduler& sched_;
  std::function<master_snapshot()> snapshot_;
  int listen_fd_ = -1;
  runtime::coroutine* acceptor_ = nullptr;  // accepts on listen_fd_; closes it when it ends
  std::vector<int> replaced_;               // listeners whose cancelled acceptors have yet to end
  std::string address_;
  // How many connections may be open at once: max_connections, or a quarter of the descriptor
  // limit (at least 16) when that is less, so a flood of admin clients never takes the
  // descriptors the master needs for workers' ready pipes and for listeners on reload.
  std::size_t slots_;
  std::list<connection> connections_;  // oldest first; each closes its own socket as it ends
  std::size_t evicting_ = 0;           // entries evicted whose coroutine has not ended yet
  runtime::coroutine* slot_waiter_ = nullptr;  // the acceptor, parked until a slot frees
};

}  // namespace echod::server
