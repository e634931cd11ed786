// The narrow reactor interface: the poller the scheduler waits on, plus the handful of socket
// operations whose waiting differs by backend (readiness for epoll, completion for io_uring).
// Every operation runs in a coroutine of the reactor's scheduler, takes a deadline, and returns
// a value or -errno; none throws. One file per backend implements it.
// What a reactor keeps for a socket lives in the socket object (an fd_slot), which every
// operation is given: the reactor never looks a descriptor up, and keeps no table sized by the
// highest one.
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

namespace echod::runtime {
class coroutine;
}

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

/// What a reactor keeps for one socket while it waits on it, reads from it or arms requests for it
/// (waiters, readiness, a multishot recv and the buffers it queued). Owned by whoever owns the
/// descriptor (stream, listener, or a thread's registration of a shared listener) and passed to
/// every reactor operation: the reactor keeps pointers to it instead of a table indexed by fd.
/// Moving a slot moves its registration (reactor::moved), queued bytes included, but never while
/// a coroutine waits on it (that aborts); forget() (or destruction) ends it, and must come before
/// the descriptor is closed and before the reactor that holds it is destroyed.
class fd_slot {
 public:
  fd_slot() = default;
  explicit fd_slot(int fd) : fd(fd) {}
  fd_slot(fd_slot&& o) noexcept { take(o); }
  fd_slot& operator=(fd_slot&& o) noexcept {
    if (this != &o) {
      forget();
      take(o);
    }
    return *this;
  }
  ~fd_slot() { forget(); }

  /// Drops what the reactor keeps for this slot, chunks received but not handed out included. A
  /// no-op off a scheduler thread (a socket closed after its scheduler is gone).
  void forget();

  int fd = -1;

  // The rest is the reactors' (each backend's file says what it uses).
  /// Per-backend state, copied as a whole when the slot moves.
  struct state {
    runtime::coroutine* reader = nullptr;  ///< waits to read (or accept)
    runtime::coroutine* writer = nullptr;  ///< waits to write (or connect)
    int pending = 0;                       ///< -errno met after bytes: the next receive returns it
    std::int16_t head = -1;  ///< io_uring: queued bids (a buffer ring has at most 32768)
    std::int16_t tail = -1;
    std::uint16_t queued = 0;
    std::uint16_t generation = 0;    ///< io_uring: tells this slot's recv from a closed one's
    bool registered : 1 = false;     ///< epoll: in the epoll set
    bool listener : 1 = false;       ///< add_listener() was called
    bool drained : 1 = false;        ///< the last recv emptied the socket: wait before the next
    bool hung_up : 1 = false;        ///< epoll: FIN, reset or error seen: reads never wait again
    bool armed : 1 = false;          ///< io_uring: a multishot recv is in the kernel
    bool ever_armed : 1 = false;     ///< io_uring: the next arming is a re-arm (counted)
    bool paused : 1 = false;         ///< io_uring: cancelled, too much queued; re-armed once taken
    bool eof : 1 = false;            ///< io_uring: end of stream, after the queued bytes
    bool ever_received : 1 = false;  ///< io_uring: -EINVAL after bytes is not "unsupported"
    bool limited : 1 = false;        ///< io_uring: the recv was armed with a byte limit
    bool bundled : 1 = false;        ///< io_uring: ... and as a recv bundle
    bool bulk : 1 = false;           ///< io_uring: a completion filled a buffer since the arming
  } s;
  reactor* owner = nullptr;  ///< the reactor that holds pointers to this slot, if any

 private:
  void take(fd_slot& o);
};

// Every connection has one: its size is per-connection memory.
static_assert(sizeof(fd_slot) <= 48);

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

  /// Registers `listener`, a listening socket's slot, with this reactor before it accepts from it
  /// (each thread that accepts from a shared listener has its own slot): 0, or -EBADF.
  /// Registering again only updates `who`; forget() unregisters. A listener's file is usually
  /// shared with other threads and processes, so the reactor treats it apart from a connection (see
  /// forget()). `who`: acceptors::one when this thread is the only one that accepts from it
  /// (io_uring then keeps one multishot accept armed; with several, the kernel would hand every
  /// client to the first one armed).
  virtual int add_listener(fd_slot& listener, acceptors who) = 0;
  /// A connected socket (non-blocking, close-on-exec), or -errno; -EINVAL when `listener` was
  /// not registered with add_listener(). A cancelled coroutine gets the connections the reactor
  /// had already taken for it (io_uring's multishot accept takes every client waiting at once),
  /// one per call, then -ECANCELED; it never takes a new one.
  virtual int accept(fd_slot& listener, deadline until) = 0;
  /// Connects the non-blocking socket `s`: 0 or -errno.
  virtual int connect(fd_slot& s, const sockaddr* to, socklen_t len, deadline until) = 0;
  /// Up to `len` bytes; 0 at end of stream.
  virtual io_result read_some(fd_slot& s, void* buf, std::size_t len, deadline until) = 0;
  /// Appends to `into` what has arrived on `s`, waiting when nothing has: at least one chunk,
  /// more when more is already there (up to received::capacity in all). The bytes appended (> 0),
  /// 0 at end of stream, or -errno. The chunks are lent: give them back with into.clear().
  virtual io_result receive(fd_slot& s, received& into, deadline until) = 0;
  /// Takes back chunks receive() lent (received::clear() calls it).
  virtual void release(std::span<const chunk> chunks) = 0;
  /// At least one byte unless an error: may be short.
  virtual io_result write_some(fd_slot& s, const void* buf, std::size_t len, deadline until) = 0;
  /// The same over several buffers, in one send (sendmsg).
  virtual io_result write_some(fd_slot& s, std::span<const iovec> iov, deadline until) = 0;
  /// Waits until `fd`, a descriptor that is not a socket (a signalfd, a pipe), is readable (or has
  /// an error / hang-up): 0 or -errno. Nothing is kept once it returns; -EALREADY while another
  /// coroutine waits on `fd`.
  virtual int wait_readable(int fd, deadline until) = 0;
  /// Ends a wait_readable() on `fd` in progress, if any, as far as the reactor is concerned (its
  /// coroutine is cancelled apart): call before closing `fd`.
  virtual void forget(int fd) = 0;
  /// Drops what the reactor keeps for `s` (fd_slot::forget() calls it).
  virtual void forget(fd_slot& s) = 0;
  /// `from`'s state was moved into `to` (fd_slot's move calls it): repoint what refers to `from`.
  virtual void moved(fd_slot& from, fd_slot& to) = 0;

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
