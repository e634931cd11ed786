// Sockets over the current thread's reactor: a listener and a connected stream. Setup errors
// (bind, listen, socket) throw std::system_error naming the call and the address, e.g.
// "bind 0.0.0.0:7007: Address already in use"; the data path returns values (count or -errno).
// read_some/write_some are single-shot; read_exact/write_all loop over them.
#pragma once

#include <cstddef>
#include <utility>

#include "io/address.hpp"
#include "io/reactor.hpp"

namespace echod::io {

/// Owns a file descriptor and its registration with the reactor (fd_slot); closing it first ends
/// the registration. Moving it moves both.
class socket_fd {
 public:
  socket_fd() = default;
  explicit socket_fd(int fd) : slot_(fd) {}
  socket_fd(socket_fd&& o) noexcept = default;
  socket_fd& operator=(socket_fd&& o) noexcept;
  ~socket_fd() { close(); }

  int get() const { return slot_.fd; }
  bool valid() const { return slot_.fd >= 0; }
  /// Gives up the descriptor, unregistered.
  int release() {
    slot_.forget();
    return std::exchange(slot_.fd, -1);
  }
  void close();
  fd_slot& slot() { return slot_; }

 private:
  fd_slot slot_;
};

struct listen_options {
  int backlog = 4096;
  bool reuse_port = false;  ///< SO_REUSEPORT: several sockets share the port, the kernel spreads
  bool v6_only = true;      ///< an IPv6 listener does not also take IPv4
};

class stream {
 public:
  stream() = default;
  explicit stream(int fd) : fd_(fd) {}

  /// Connects to `to` (optionally from `source`, port chosen at connect time so several source
  /// addresses get past the ephemeral port range): 0 or -errno, and then `out` is closed.
  static int connect(const address& to, stream& out, deadline until = no_deadline,
                     const address* source = nullptr);

  io_result read_some(void* buf, std::size_t len, deadline until = no_deadline);
  /// Reads exactly `len` bytes unless the stream ends first: bytes read (short only at EOF) or
  /// -errno.
  io_result read_exact(void* buf, std::size_t len, deadline until = no_deadline);
  /// Lends what has arrived (see reactor::receive): bytes appended to `into`, 0 at EOF, -errno.
  io_result receive(received& into, deadline until = no_deadline);
  io_result write_some(const void* buf, std::size_t len, deadline until = no_deadline);
  /// Writes all `len` bytes, however short the kernel's writes: `len` or -errno.
  io_result write_all(const void* buf, std::size_t len, deadline until = no_deadline);
  /// Writes every chunk of `data`, in order, in one send when the kernel takes it all: the bytes
  /// or -errno.
  io_result write_all(const received& data, deadline until = no_deadline);

  int shutdown_write();  ///< half-close: the peer reads EOF, we can still read. 0 or -errno
  /// Bytes written but not yet acknowledged by the peer (SIOCOUTQ), or -errno.
  io_result unacknowledged_bytes() const;
  int set_nodelay(bool on);
  int set_send_buffer(int bytes);
  int set_receive_buffer(int bytes);
  /// Makes close() send RST instead of FIN (SO_LINGER 0), e.g. to cut off a bad client.
  int set_reset_on_close();
  void close() { fd_.close(); }
  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  fd_slot& slot() { return fd_.slot(); }  ///< for reactor calls this class does not wrap

 private:
  socket_fd fd_;
};

class listener {
 public:
  listener() = default;
  explicit listener(int fd) : fd_(fd) {}  ///< adopts a listening socket, e.g. one inherited

  /// A bound, listening, non-blocking socket. Throws std::system_error on failure. Opened on a
  /// scheduler thread, it is registered with that thread's reactor as its only acceptor
  /// (reactor::add_listener), ready to accept there; a listener that several threads accept
  /// from is registered by each with acceptors::many instead.
  static listener open(const address& at, const listen_options& opts = {});

  /// The next connection: 0 and `out` set, or -errno (e.g. -EMFILE, -ETIMEDOUT, -ECANCELED).
  int accept(stream& out, deadline until = no_deadline);
  address local_address() const;
  int fd() const { return fd_.get(); }
  int release() { return fd_.release(); }
  void close() { fd_.close(); }
  bool valid() const { return fd_.valid(); }
  /// Its registration with this thread's reactor, e.g. for reactor::add_listener().
  fd_slot& slot() { return fd_.slot(); }

 private:
  socket_fd fd_;
};

}  // namespace echod::io
