#include "io/socket.hpp"

#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "runtime/scheduler.hpp"

namespace echod::io {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

int set_int_option(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : -errno;
}

}  // namespace

std::string error_text(io_result negative_errno) {
  return std::strerror(static_cast<int>(-negative_errno));
}

socket_fd& socket_fd::operator=(socket_fd&& o) noexcept {
  if (this != &o) {
    close();
    slot_ = std::move(o.slot_);
  }
  return *this;
}

void socket_fd::close() {
  if (slot_.fd < 0) return;
  slot_.forget();  // before close(): the reactor may hold the descriptor's number
  ::close(std::exchange(slot_.fd, -1));
}

int stream::connect(const address& to, stream& out, deadline until, const address* source) {
  const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  // Connected in place, so the registration the wait makes never has to move.
  out = stream(fd);
  if (source != nullptr) {
    // Defer the port choice to connect(), where the kernel picks one unique for the 4-tuple:
    // that is what lets several source addresses each use the whole ephemeral range.
    set_int_option(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    if (::bind(fd, source->get(), source->length) != 0) {
      const int e = -errno;
      out.close();
      return e;
    }
  }
  const int r = reactor::current().connect(out.slot(), to.get(), to.length, until);
  if (r < 0) out.close();
  return r;
}

io_result stream::read_some(void* buf, std::size_t len, deadline until) {
  return reactor::current().read_some(slot(), buf, len, until);
}

io_result stream::read_exact(void* buf, std::size_t len, deadline until) {
  std::size_t got = 0;
  while (got < len) {
    const io_result r = read_some(static_cast<char*>(buf) + got, len - got, until);
    if (r < 0) return r;
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return static_cast<io_result>(got);
}

io_result stream::receive(received& into, deadline until) {
  return reactor::current().receive(slot(), into, until);
}

io_result stream::write_some(const void* buf, std::size_t len, deadline until) {
  return reactor::current().write_some(slot(), buf, len, until);
}

io_result stream::write_all(const void* buf, std::size_t len, deadline until) {
  std::size_t sent = 0;
  while (sent < len) {
    const io_result r = write_some(static_cast<const char*>(buf) + sent, len - sent, until);
    if (r < 0) return r;
    sent += static_cast<std::size_t>(r);
  }
  return static_cast<io_result>(sent);
}

io_result stream::write_all(const received& data, deadline until) {
  const auto chunks = data.chunks();
  if (chunks.size() == 1) return write_all(chunks[0].data, chunks[0].size, until);
  iovec iov[received::capacity];
  for (std::size_t i = 0; i < chunks.size(); ++i) iov[i] = {chunks[i].data, chunks[i].size};
  const std::size_t total = data.bytes();
  std::size_t first = 0;  // the first iovec not yet sent in full
  for (std::size_t sent = 0; sent < total;) {
    if (first + 1 == chunks.size()) {  // one left: a plain send
      const io_result r = write_all(iov[first].iov_base, iov[first].iov_len, until);
      return r < 0 ? r : static_cast<io_result>(total);
    }
    const io_result r = reactor::current().write_some(
        slot(), std::span<const iovec>(iov + first, chunks.size() - first), until);
    if (r < 0) return r;
    sent += static_cast<std::size_t>(r);
    for (auto left = static_cast<std::size_t>(r); left > 0;) {  // skip what the kernel took
      if (left >= iov[first].iov_len) {
        left -= iov[first++].iov_len;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
        left = 0;
      }
    }
  }
  return static_cast<io_result>(total);
}

int stream::shutdown_write() { return ::shutdown(fd(), SHUT_WR) == 0 ? 0 : -errno; }
io_result stream::unacknowledged_bytes() const {
  int bytes = 0;
  return ::ioctl(fd(), SIOCOUTQ, &bytes) == 0 ? bytes : -errno;
}
int stream::set_nodelay(bool on) { return set_int_option(fd(), IPPROTO_TCP, TCP_NODELAY, on); }
int stream::set_send_buffer(int bytes) {
  return set_int_option(fd(), SOL_SOCKET, SO_SNDBUF, bytes);
}
int stream::set_receive_buffer(int bytes) {
  return set_int_option(fd(), SOL_SOCKET, SO_RCVBUF, bytes);
}

int stream::set_reset_on_close() {
  const linger l{1, 0};
  return setsockopt(fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0 ? 0 : -errno;
}

listener listener::open(const address& at, const listen_options& opts) {
  const std::string where = at.to_string();
  const int fd = ::socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket " + where);
  listener l(fd);
  // SO_REUSEADDR: a restarted echod can bind while old connections sit in TIME_WAIT.
  set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (opts.reuse_port && set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0) {
    throw_errno("setsockopt SO_REUSEPORT " + where);
  }
  if (at.family() == AF_INET6) set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts.v6_only);
  if (::bind(fd, at.get(), at.length) != 0) throw_errno("bind " + where);
  if (::listen(fd, opts.backlog) != 0) throw_errno("listen " + where);
  if (runtime::scheduler::current() != nullptr) {
    reactor::current().add_listener(l.slot(), acceptors::one);
  }
  return l;
}

int listener::accept(stream& out, deadline until) {
  const int fd = reactor::current().accept(slot(), until);
  if (fd < 0) return fd;
  out = stream(fd);
  return 0;
}

address listener::local_address() const {
  auto a = address::local_of(fd());
  return a ? *a : address{};
}

}  // namespace echod::io
