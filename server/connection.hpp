// One client connection as a service sees it: read, write, a reusable buffer and the config.
// It owns the socket and the buffer, applies the idle timeout to every read and write, counts
// bytes and errors in the thread's slot, and ends the connection politely once the service
// returns: after a clean end of input it half-closes (the client reads every reply, then EOF);
// when the server ended first (an HTTP error, a stop) it also lingers until the client has
// acknowledged every reply, so that close() cannot send a reset that destroys the last one.
// Errors on one connection only ever end that connection.
#pragma once

#include <cstddef>
#include <memory>

#include "config/server_config.hpp"
#include "io/result.hpp"
#include "io/socket.hpp"
#include "runtime/clock.hpp"

namespace echod::runtime {
class coroutine;
}

namespace echod::server {

class worker_thread;

class connection {
 public:
  /// Adopts `fd`, an accepted socket, on a slot `owner` reserved for it.
  connection(worker_thread& owner, int fd);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Up to `len` bytes into `buf`: the count (> 0), 0 at the end of input, or -errno after an
  /// error or the idle timeout (already counted and logged: the service should just return).
  /// While the worker is closing, the input also ends once the client has been quiet briefly.
  io::io_result read(char* buf, std::size_t len);
  /// Sends all `len` bytes; false after an error (counted: the service should just return).
  bool write(const char* data, std::size_t len);

  /// The worker no longer accepts (a reload or a stop): a service with sessions (HTTP
  /// keep-alive) should end them at the next boundary, so the client reconnects to a worker that
  /// stays. Raw streams have no boundary: they are served until the client ends (or the stop).
  bool draining() const;

  /// The connection's buffer: config().buffer_size bytes, the same for the connection's life.
  char* buffer() { return buffer_.get(); }
  std::size_t buffer_size() const;
  const config::server_config& config() const;

 private:
  friend class worker_thread;
  friend void serve_connection(worker_thread& owner, int fd);

  runtime::deadline io_deadline() const;
  runtime::deadline read_deadline() const;  ///< io_deadline(), or sooner while closing
  void fail(io::io_result error);
  /// worker_thread::begin_closing(): a read in progress stops waiting for the idle timeout and
  /// waits a short quiet period instead (see read()).
  void interrupt_read();
  void finish();  ///< after the service returned: half-close, linger, then the destructor closes

  worker_thread& owner_;
  io::stream stream_;
  runtime::coroutine* self_;  ///< the coroutine serving this connection
  std::unique_ptr<char[]> buffer_;
  runtime::clock::duration idle_;  ///< the idle timeout; zero: none
  bool eof_ = false;      ///< the client ended its input (not a closing server's quiet end)
  bool reading_ = false;  ///< parked in read(): interrupt_read() may cut the wait short
  bool failed_ = false;   ///< an I/O error, idle timeout or cancel: close at once
  connection* prev_ = nullptr;
  connection* next_ = nullptr;
};

/// The body of a connection coroutine: runs the worker's service on `fd`, then closes it.
void serve_connection(worker_thread& owner, int fd);

}  // namespace echod::server
