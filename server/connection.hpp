// One client connection as a service sees it: receive, write, deadlines. It owns the socket
// (received bytes are lent by the thread's reactor, see io::received: an idle connection holds no
// buffer), applies the idle timeout to every read and write (and the
// deadlines a service sets for its current step, such as an HTTP request's head), counts bytes,
// errors and deadlines by kind in the thread's slot, and ends the connection politely once the
// service returns: after a clean end of input it half-closes (the client reads every reply, then
// EOF); when the server ended first (an HTTP error, a stop) it also lingers until the client has
// acknowledged every reply, so that close() cannot send a reset that destroys the last one.
// Errors on one connection only ever end that connection.
#pragma once

#include <cstddef>
#include <cstdint>

#include "io/result.hpp"
#include "io/socket.hpp"
#include "runtime/clock.hpp"
#include "server/connection_registry.hpp"

namespace echod::runtime {
class coroutine;
}

namespace echod::server {

class worker_thread;

/// What a read waited for when its time ran out; each is counted under its own kind.
enum class wait_kind : std::uint8_t {
  idle,       ///< idle_timeout
  header,     ///< http.header_timeout
  body,       ///< http.body_timeout (and body_min_rate)
  keepalive,  ///< http.keepalive_timeout
};

/// A connection's own options (config idle_timeout, tcp_nodelay), built by make_worker_options().
struct connection_options {
  runtime::clock::duration idle_timeout{};  ///< every read and write; zero: none
  bool tcp_nodelay = false;
};

class connection {
 public:
  /// The body of a connection coroutine: adopts `fd`, an accepted socket, on a slot `owner`
  /// reserved for it, runs the worker's service on it, then ends it politely and closes it.
  static void serve(worker_thread& owner, int fd);

  /// Registered in `owner`'s connection registry for its whole life.
  connection(worker_thread& owner, const connection_options& opts, int fd);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Appends to `in` the bytes that have arrived (every chunk already there, up to
  /// io::received::capacity; waits when none has): the bytes appended (> 0), 0 at the end of
  /// input, or -errno after an error, a timeout or an overload eviction (already counted and
  /// logged: the service should just return). The chunks may be changed in place and written
  /// back; in.clear() (or its destructor) gives them back. While the worker is closing, the input
  /// also ends once the client has been quiet briefly; once it is ending (shutdown_timeout
  /// passed) it ends at once, unread.
  io::io_result receive(io::received& in);
  /// Sends all `len` bytes; false after an error (counted: the service should just return).
  bool write(const char* data, std::size_t len);
  /// Sends every chunk of `data` in order (one send when the kernel takes it all); false after an
  /// error, as above. The chunks stay lent until data.clear().
  bool write(const io::received& data);

  /// The worker no longer accepts (a reload or a stop): a service with sessions (HTTP
  /// keep-alive) should end them at the next boundary, so the client reconnects to a worker that
  /// stays. Raw streams have no boundary: they are served until the client ends (or the stop).
  bool draining() const;

  /// How long each read may wait for input (zero: no limit) and what it counts as when that
  /// passes. Starts as idle_timeout / idle; HTTP waits keepalive_timeout between requests.
  void set_wait_limit(runtime::clock::duration wait, wait_kind kind);
  /// A fixed deadline for the service's current step (an HTTP head or body), on top of the wait
  /// limit: no read waits past it, however often input trickles in. no_deadline clears it.
  void set_deadline(runtime::deadline until, wait_kind kind);

  /// The idle timeout (zero: none), which the service may use as its own wait limit.
  runtime::clock::duration idle_timeout() const { return idle_; }

  // ---- for the worker thread (stop and overload shedding) ----

  /// worker_thread::begin_closing() and end_connections(): a read in progress stops waiting for
  /// the idle timeout (see receive()).
  void interrupt_read();
  /// When the read it is parked in (with no input yet) began; no_deadline when it is not parked
  /// in receive() or is already being shed. Overload evicts what has waited idle_grace.
  runtime::deadline idle_since() const {
    return reading_ && !shed_ ? read_started_ : runtime::no_deadline;
  }
  /// Overload: ends the pending read; the connection closes as `overload` (see receive()).
  void shed();
  /// shed() chose it and input has not saved it (yet): its slot already counts as free.
  bool being_shed() const { return shed_; }

 private:
  runtime::deadline io_deadline() const;  ///< a write's: idle_timeout from now
  /// The wait limit from `now`, the step deadline, and while closing the short quiet period.
  runtime::deadline read_deadline(runtime::deadline now) const;
  /// Which limit a read that timed out at `now` ran into.
  wait_kind expired_kind(runtime::deadline now) const;
  void fail(io::io_result error, wait_kind kind = wait_kind::idle);
  void finish();  ///< after the service returned: half-close, linger, then the destructor closes

  worker_thread& owner_;
  io::stream stream_;
  runtime::coroutine* self_;                           ///< the coroutine serving this connection
  runtime::clock::duration idle_;                      ///< the idle timeout; zero: none
  runtime::clock::duration wait_;                      ///< see set_wait_limit()
  runtime::deadline deadline_ = runtime::no_deadline;  ///< see set_deadline()
  runtime::deadline read_started_{};                   ///< when the current read began
  wait_kind wait_kind_ = wait_kind::idle;
  wait_kind deadline_kind_ = wait_kind::idle;
  bool eof_ = false;      ///< the client ended its input (not a closing server's quiet end)
  bool reading_ = false;  ///< parked in receive(): interrupt_read() may cut the wait short
  bool failed_ = false;   ///< an I/O error, timeout, eviction or cancel: close at once
  bool shed_ = false;     ///< chosen by overload eviction; its read is being ended
  // Last, so it is destroyed first: the registry sees the connection leave after the socket is
  // closed, with every other member still alive.
  connection_registry::member registered_;
};

}  // namespace echod::server
