// The narrow reactor interface: the poller the scheduler waits on, plus the handful of socket
// operations whose waiting differs by backend (readiness for epoll, completion for io_uring).
// Every operation runs in a coroutine of the reactor's scheduler, takes a deadline, and returns
// a value or -errno; none throws. One file per backend implements it.
// One waiter per fd and direction: while a coroutine waits to read an fd (accept, read_some,
// wait_readable) or to write it (connect, write_some), another that would wait the same way gets
// -EALREADY at once, and the first wait goes on undisturbed (no silent overwrite).
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "io/result.hpp"
#include "runtime/clock.hpp"
#include "runtime/poller.hpp"

namespace echod::io {

using runtime::deadline;
using runtime::no_deadline;

class reactor : public runtime::poller {
 public:
  /// The reactor of the scheduler running on this thread.
  static reactor& current();

  virtual const char* name() const = 0;

  /// A connected socket (non-blocking, close-on-exec), or -errno.
  virtual int accept(int listen_fd, deadline until) = 0;
  /// Connects the non-blocking socket `fd`: 0 or -errno.
  virtual int connect(int fd, const sockaddr* to, socklen_t len, deadline until) = 0;
  /// Up to `len` bytes; 0 at end of stream.
  virtual io_result read_some(int fd, void* buf, std::size_t len, deadline until) = 0;
  /// At least one byte unless an error: may be short.
  virtual io_result write_some(int fd, const void* buf, std::size_t len, deadline until) = 0;
  /// Waits until `fd` is readable (or has an error / hang-up): 0 or -errno. For sockets whose
  /// reads the caller does itself, e.g. an eventfd or a pipe.
  virtual int wait_readable(int fd, deadline until) = 0;
  /// Drops what the reactor knows of `fd`; call before close().
  virtual void forget(int fd) = 0;
};

}  // namespace echod::io
