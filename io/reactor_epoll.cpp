#include "io/reactor_epoll.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "io/buffer_pool.hpp"
#include "runtime/scheduler.hpp"

namespace echod::io {
namespace {

using runtime::coroutine;
using runtime::scheduler;
using runtime::wake_reason;

int from_wake(wake_reason why) {
  switch (why) {
    case wake_reason::woken:
      return 0;
    case wake_reason::timed_out:
      return -ETIMEDOUT;
    case wake_reason::cancelled:
      return -ECANCELED;
  }
  return -EINVAL;
}

class epoll_reactor final : public reactor {
 public:
  explicit epoll_reactor(const reactor_options& opts)
      : reactor(opts.counters), pool_(opts.buffer_size, opts.cached_buffers) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) {
      ::close(epfd_);
      throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = nullptr;  // every other registration points to its fd_slot
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  }

  ~epoll_reactor() override {
    ::close(wake_fd_);
    ::close(epfd_);
  }

  const char* name() const override { return backend_name(backend_kind::epoll); }

  void close_after_fork() {
    ::close(std::exchange(wake_fd_, -1));
    ::close(std::exchange(epfd_, -1));
  }

  int add_listener(fd_slot& l, acceptors) override {
    if (l.fd < 0) return -EBADF;
    l.s.listener = true;
    return 0;
  }

  int accept(fd_slot& l, deadline until) override {
    if (!l.s.listener) return -EINVAL;
    // Cancelled: nothing was taken ahead (see reactor.hpp), and nothing new is.
    if (scheduler::current()->cancelled(scheduler::current_coroutine())) return -ECANCELED;
    for (;;) {
      const int fd = ::accept4(l.fd, nullptr, nullptr, accepted_socket_flags);
      if (fd >= 0) return fd;
      const int e = errno;
      // ECONNABORTED: the client gave up while queued; the next one may be fine.
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e != EAGAIN) return -e;
      if (const int r = wait(l, direction::read, until); r < 0) return r;
    }
  }

  int connect(fd_slot& s, const sockaddr* to, socklen_t len, deadline until) override {
    if (::connect(s.fd, to, len) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return -errno;
    if (const int r = wait(s, direction::write, until); r < 0) return r;
    return connect_outcome(s.fd);
  }

  io_result read_some(fd_slot& s, void* buf, std::size_t len, deadline until) override {
    for (;;) {
      if (s.s.drained) {
        if (const int r = wait(s, direction::read, until); r < 0) return r;
      }
      const ssize_t n = ::recv(s.fd, buf, len, 0);
      if (n > 0) {
        // A short read emptied the receive queue: the next read waits for the edge that new
        // bytes bring instead of paying a recv() that would fail with EAGAIN (a request/reply
        // peer almost always reads again before the next message is there).
        // Not after a FIN or an error, though: their edge may be spent already, and they stay.
        if (static_cast<std::size_t>(n) < len && !s.s.hung_up) s.s.drained = true;
        return n;
      }
      if (n == 0) return 0;  // end of stream stays readable: not drained
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      s.s.drained = true;
    }
  }

  io_result receive(fd_slot& s, received& into, deadline until) override {
    struct adapter {
      epoll_reactor& r;
      fd_slot& s;
      deadline until;
      int pending() { return s.s.pending; }
      void set_pending(int e) { s.s.pending = e; }
      bool drained() { return s.s.drained; }
      // See read_some: after a FIN or an error the edge may be spent, so never wait then.
      void emptied(bool short_read) {
        if (!short_read || !s.s.hung_up) s.s.drained = true;
      }
      int wait_readable() { return r.wait(s, direction::read, until); }
      io_result recv(char* buf, std::size_t len) {
        const ssize_t n = ::recv(s.fd, buf, len, 0);
        return n >= 0 ? n : -errno;
      }
    };
    return receive_pooled(*this, pool_, *counters_, into, adapter{*this, s, until});
  }

  void release(std::span<const chunk> chunks) override {
    for (const chunk& c : chunks) pool_.give_back(c.data);
  }

  io_result write_some(fd_slot& s, const void* buf, std::size_t len, deadline until) override {
    return write_with([&] { return ::send(s.fd, buf, len, MSG_NOSIGNAL); }, len, s, until);
  }

  io_result write_some(fd_slot& s, std::span<const iovec> iov, deadline until) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    std::size_t len = 0;
    for (const iovec& v : iov) len += v.iov_len;
    return write_with([&] { return ::sendmsg(s.fd, &msg, MSG_NOSIGNAL); }, len, s, until);
  }

  std::size_t buffers_lent() const override { return pool_.lent(); }

  // Registered for the one wait only, so no state outlives it; raw_waits_ lets forget(fd) end
  // the registration before its descriptor is closed, should the waiter not have run yet.
  int wait_readable(int fd, deadline until) override {
    if (fd < 0) return -EBADF;
    for (const fd_slot* w : raw_waits_) {
      if (w->fd == fd) return -EALREADY;
    }
    // Nothing registered it yet, so no edge can have been consumed: ask the fd first.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) return 0;
    fd_slot slot(fd);
    raw_waits_.push_back(&slot);
    const int r = wait(slot, direction::read, until);
    std::erase(raw_waits_, &slot);
    forget(slot);
    return r;
  }

  void forget(int fd) override {
    for (fd_slot* w : raw_waits_) {
      if (w->fd != fd) continue;
      forget(*w);
      w->fd = -1;  // matches no later wait on a descriptor that reuses the number
    }
  }

  // Taken out of the set explicitly, not left to close(): the file may be shared (a listener
  // with other processes, any descriptor with a child forked meanwhile), and then close() alone
  // would leave it in our set, reporting events through a pointer to a slot that is gone.
  void forget(fd_slot& s) override {
    if (s.s.registered) epoll_ctl(epfd_, EPOLL_CTL_DEL, s.fd, nullptr);
    s.s = {};
    s.owner = nullptr;
  }

  void moved(fd_slot&, fd_slot& to) override {
    if (!to.s.registered) return;
    epoll_event ev = registration(to);
    epoll_ctl(epfd_, EPOLL_CTL_MOD, to.fd, &ev);
  }

  void poll(std::chrono::nanoseconds timeout) override {
    epoll_event events[256];
    timespec ts{};
    const timespec* tsp = nullptr;
    if (timeout.count() >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
      tsp = &ts;
    }
    const int n = epoll_pwait2(epfd_, events, 256, tsp, nullptr);
    if (n <= 0) return;  // EINTR or timeout
    scheduler* sched = scheduler::current();
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {  // the wake eventfd
        std::uint64_t drained;
        while (::read(wake_fd_, &drained, sizeof drained) > 0) {
        }
        continue;
      }
      const std::uint32_t ev = events[i].events;
      fd_slot::state& st = static_cast<fd_slot*>(events[i].data.ptr)->s;
      // Errors and hang-ups wake both sides: the retried syscall reports what happened.
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        st.drained = false;
        if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) st.hung_up = true;
        if (st.reader) sched->wake(st.reader);
      }
      if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && st.writer) sched->wake(st.writer);
    }
  }

  void interrupt() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }

 private:
  // MSG_NOSIGNAL (both sends): a peer that went away is an -EPIPE result, not a process-killing
  // SIGPIPE.
  template <typename Send>
  io_result write_with(Send&& send, std::size_t len, fd_slot& s, deadline until) {
    for (;;) {
      const ssize_t n = send();
      if (n >= 0) {
        if (static_cast<std::size_t>(n) < len) io_counters::add(counters_->short_sends, 1);
        return n;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (const int r = wait(s, direction::write, until); r < 0) return r;
    }
  }

  enum class direction { read, write };
  // Both directions, once for the socket's life (edge-triggered), pointing to its slot.
  static epoll_event registration(fd_slot& s) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &s;
    return ev;
  }

  int wait(fd_slot& s, direction dir, deadline until) {
    scheduler* sched = scheduler::current();
    coroutine* self = scheduler::current_coroutine();
    if (sched->cancelled(self)) return -ECANCELED;
    coroutine*& waiter = dir == direction::read ? s.s.reader : s.s.writer;
    if (waiter != nullptr) return -EALREADY;
    if (!s.s.registered) {
      if (s.fd < 0) return -EBADF;
      epoll_event ev = registration(s);
      // EEXIST: another slot registered this descriptor; it, not this one, would be woken.
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, s.fd, &ev) != 0)
        return errno == EEXIST ? -EALREADY : -errno;
      s.s.registered = true;
      s.owner = this;
    }
    waiter = self;
    const wake_reason why = sched->park(until);
    waiter = nullptr;  // the slot stays put while a coroutine waits on it (see fd_slot)
    return from_wake(why);
  }

  buffer_pool pool_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  std::vector<fd_slot*> raw_waits_;  ///< wait_readable()s in progress
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor(const reactor_options& opts) {
  return std::make_unique<epoll_reactor>(opts);
}

void close_after_fork(reactor& epoll) { static_cast<epoll_reactor&>(epoll).close_after_fork(); }

}  // namespace echod::io
