// The narrow reactor interface: the poller the scheduler waits on, plus the handful of socket
// operations whose waiting differs by backend (readiness for epoll, completion for io_uring).
// Every operation runs in a coroutine of the reactor's scheduler, takes a deadline, and returns
// a value or -errno; none throws. One file per backend implements it.
// One waiter per fd and direction: while a coroutine waits to read an fd (accept, read_some,
// wait_readable) or to write it (connect, write_some), another that would wait the same way gets
// -EALREADY at once, and the first wait goes on undisturbed (no silent overwrite).
// Received bytes are lent, not copied: receive() hands out chunks of buffers the reactor owns (a
// per-thread pool, or io_uring's provided buffer ring) and takes them back through release(), so
// a connection waiting for input holds no buffer.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/io_counters.hpp"
#include "io/result.hpp"
#include "runtime/clock.hpp"
#include "runtime/poller.hpp"

namespace echod::io {

using runtime::deadline;
using runtime::no_deadline;

/// The flags of every socket accept() hands out, on both backends: non-blocking (io_uring arms its
/// own poll either way, and code that calls the kernel directly never blocks a scheduler thread)
/// and close-on-exec (a spawned process inherits no connection).
inline constexpr int accepted_socket_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;

/// How a non-blocking connect that was waited out ended, once its socket is writable: 0, or the
/// -errno the kernel left in SO_ERROR. Both backends finish a connect with it.
inline int connect_outcome(int fd) {
  int err = 0;
  socklen_t err_len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) return -errno;
  return -err;
}

/// Who accepts from a listener (reactor::add_listener).
enum class acceptors {
  many,  ///< other threads or processes too (a server's workers)
  one,   ///< this thread alone
};

/// Bytes received into a buffer the reactor lends: data[0..size) may be changed in place.
struct chunk {
  char* data = nullptr;
  std::uint32_t size = 0;
  std::uint32_t id = 0;  ///< the backend's handle for the buffer (a buffer ring's bid)
};

class reactor;

/// The chunks one receive (or several) lent, in arrival order; gives them back to their reactor
/// on clear() or destruction (so a coroutine unwound mid-service returns them too). Lives on the
/// receiving coroutine's stack; never copied.
class received {
 public:
  static constexpr std::size_t capacity = 16;  ///< chunks one receive hands out at most

  received() = default;
  ~received() { clear(); }
  received(const received&) = delete;
  received& operator=(const received&) = delete;

  std::span<chunk> chunks() { return {chunks_, count_}; }
  std::span<const chunk> chunks() const { return {chunks_, count_}; }
  bool empty() const { return count_ == 0; }
  bool full() const { return count_ == capacity; }
  std::size_t bytes() const {
    std::size_t n = 0;
    for (const chunk& c : chunks()) n += c.size;
    return n;
  }
  /// Gives every chunk back to the reactor that lent it.
  inline void clear();

  /// For reactors: appends a chunk `from` lent. Never called when full().
  void add(reactor& from, chunk c) {
    owner_ = &from;
    chunks_[count_++] = c;
  }

 private:
  reactor* owner_ = nullptr;
  chunk chunks_[capacity];
  std::size_t count_ = 0;
};

class reactor : public runtime::poller {
 public:
  /// The reactor of the scheduler running on this thread.
  static reactor& current();

  virtual const char* name() const = 0;

  /// Registers `listen_fd`, a listening socket, with this reactor before it accepts from it (on
  /// each thread that accepts): 0, or -EBADF. Registering again only updates `who`; forget()
  /// unregisters. A listener's file is usually shared with other threads and processes, so the
  /// reactor treats it apart from a connection (see forget()). `who`: acceptors::one when this
  /// thread is the only one that accepts from it (io_uring then keeps one multishot accept armed;
  /// with several, the kernel would hand every client to the first one armed).
  virtual int add_listener(int listen_fd, acceptors who) = 0;
  /// A connected socket (non-blocking, close-on-exec), or -errno; -EINVAL when `listen_fd` was
  /// not registered with add_listener(). A cancelled coroutine gets the connections the reactor
  /// had already taken for it (io_uring's multishot accept takes every client waiting at once),
  /// one per call, then -ECANCELED; it never takes a new one.
  virtual int accept(int listen_fd, deadline until) = 0;
  /// Connects the non-blocking socket `fd`: 0 or -errno.
  virtual int connect(int fd, const sockaddr* to, socklen_t len, deadline until) = 0;
  /// Up to `len` bytes; 0 at end of stream.
  virtual io_result read_some(int fd, void* buf, std::size_t len, deadline until) = 0;
  /// Appends to `into` what has arrived on `fd`, waiting when nothing has: at least one chunk,
  /// more when more is already there (up to received::capacity in all). The bytes appended (> 0),
  /// 0 at end of stream, or -errno. The chunks are lent: give them back with into.clear().
  virtual io_result receive(int fd, received& into, deadline until) = 0;
  /// Takes back chunks receive() lent (received::clear() calls it).
  virtual void release(std::span<const chunk> chunks) = 0;
  /// At least one byte unless an error: may be short.
  virtual io_result write_some(int fd, const void* buf, std::size_t len, deadline until) = 0;
  /// The same over several buffers, in one send (sendmsg).
  virtual io_result write_some(int fd, std::span<const iovec> iov, deadline until) = 0;
  /// Waits until `fd` is readable (or has an error / hang-up): 0 or -errno. For sockets whose
  /// reads the caller does itself, e.g. an eventfd or a pipe.
  virtual int wait_readable(int fd, deadline until) = 0;
  /// Drops what the reactor knows of `fd`, chunks received but not handed out included; call
  /// before close().
  virtual void forget(int fd) = 0;

  /// Receive buffers lent now: handed out, or (io_uring) queued for a connection. 0 when every
  /// buffer is back.
  virtual std::size_t buffers_lent() const = 0;
  const io_counters& counters() const { return *counters_; }

 protected:
  explicit reactor(io_counters* counters) : counters_(counters ? counters : &own_counters_) {}
  io_counters* counters_;

 private:
  io_counters own_counters_;
};

void received::clear() {
  if (count_ != 0) owner_->release(chunks());
  count_ = 0;
}

}  // namespace echod::io
