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
    ev.data.fd = wake_fd_;
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

  int add_listener(int listen_fd, acceptors) override {
    if (listen_fd < 0) return -EBADF;
    state(listen_fd).listener = true;
    return 0;
  }

  int accept(int listen_fd, deadline until) override {
    if (!is_listener(listen_fd)) return -EINVAL;
    // Cancelled: nothing was taken ahead (see reactor.hpp), and nothing new is.
    if (scheduler::current()->cancelled(scheduler::current_coroutine())) return -ECANCELED;
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, accepted_socket_flags);
      if (fd >= 0) return fd;
      const int e = errno;
      // ECONNABORTED: the client gave up while queued; the next one may be fine.
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e != EAGAIN) return -e;
      if (const int r = wait(listen_fd, direction::read, until); r < 0) return r;
    }
  }

  int connect(int fd, const sockaddr* to, socklen_t len, deadline until) override {
    if (::connect(fd, to, len) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return -errno;
    if (const int r = wait(fd, direction::write, until); r < 0) return r;
    return connect_outcome(fd);
  }

  io_result read_some(int fd, void* buf, std::size_t len, deadline until) override {
    for (;;) {
      if (drained(fd)) {
        if (const int r = wait(fd, direction::read, until); r < 0) return r;
      }
      const ssize_t n = ::recv(fd, buf, len, 0);
      if (n > 0) {
        // A short read emptied the receive queue: the next read waits for the edge that new
        // bytes bring instead of paying a recv() that would fail with EAGAIN (a request/reply
        // peer almost always reads again before the next message is there).
        // Not after a FIN or an error, though: their edge may be spent already, and they stay.
        if (static_cast<std::size_t>(n) < len && !hung_up(fd)) state(fd).drained = true;
        return n;
      }
      if (n == 0) return 0;  // end of stream stays readable: not drained
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      state(fd).drained = true;
    }
  }

  io_result receive(int fd, received& into, deadline until) override {
    struct adapter {
      epoll_reactor& r;
      int fd;
      deadline until;
      int pending() { return r.state(fd).pending; }
      void set_pending(int e) { r.state(fd).pending = e; }
      bool drained() { return r.drained(fd); }
      // See read_some: after a FIN or an error the edge may be spent, so never wait then.
      void emptied(bool short_read) {
        if (!short_read || !r.hung_up(fd)) r.state(fd).drained = true;
      }
      int wait_readable() { return r.wait(fd, direction::read, until); }
      io_result recv(char* buf, std::size_t len) {
        const ssize_t n = ::recv(fd, buf, len, 0);
        return n >= 0 ? n : -errno;
      }
    };
    return receive_pooled(*this, pool_, *counters_, into, adapter{*this, fd, until});
  }

  void release(std::span<const chunk> chunks) override {
    for (const chunk& c : chunks) pool_.give_back(c.data);
  }

  io_result write_some(int fd, const void* buf, std::size_t len, deadline until) override {
    return write_with([&] { return ::send(fd, buf, len, MSG_NOSIGNAL); }, len, fd, until);
  }

  io_result write_some(int fd, std::span<const iovec> iov, deadline until) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    std::size_t len = 0;
    for (const iovec& v : iov) len += v.iov_len;
    return write_with([&] { return ::sendmsg(fd, &msg, MSG_NOSIGNAL); }, len, fd, until);
  }

  std::size_t buffers_lent() const override { return pool_.lent(); }

  int wait_readable(int fd, deadline until) override {
    // Edge-triggered readiness may already have been reported and consumed: ask the fd first.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) return 0;
    return wait(fd, direction::read, until);
  }

  void forget(int fd) override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    // A listener's file is shared with other processes, so close() alone would leave it in our
    // epoll set, reporting every new connection. Connections die with their last close().
    if (fds_[fd].listener && fds_[fd].registered) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    fds_[fd] = {};
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
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        std::uint64_t drained;
        while (::read(wake_fd_, &drained, sizeof drained) > 0) {
        }
        continue;
      }
      if (static_cast<std::size_t>(fd) >= fds_.size()) continue;
      const std::uint32_t ev = events[i].events;
      fd_state& st = fds_[fd];
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
  io_result write_with(Send&& send, std::size_t len, int fd, deadline until) {
    for (;;) {
      const ssize_t n = send();
      if (n >= 0) {
        if (static_cast<std::size_t>(n) < len) io_counters::add(counters_->short_sends, 1);
        return n;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return -errno;
      if (const int r = wait(fd, direction::write, until); r < 0) return r;
    }
  }

  enum class direction { read, write };
  struct fd_state {
    coroutine* reader = nullptr;
    coroutine* writer = nullptr;
    bool registered = false;
    bool listener = false;  ///< add_listener(): remove it from the set explicitly on forget()
    /// read_some() emptied the receive queue and no readable edge has come since. Edge
    /// triggering reports every arrival after that read, so waiting first loses nothing.
    bool drained = false;
    bool hung_up = false;  ///< a FIN, reset or error was reported: reads never wait again
    int pending = 0;       ///< -errno a receive() met after bytes: the next one returns it
  };

  fd_state& state(int fd) {
    if (static_cast<std::size_t>(fd) >= fds_.size()) fds_.resize(static_cast<std::size_t>(fd) + 64);
    return fds_[fd];
  }
  bool drained(int fd) const {
    return static_cast<std::size_t>(fd) < fds_.size() && fds_[fd].drained;
  }
  bool is_listener(int fd) const {
    return fd >= 0 && static_cast<std::size_t>(fd) < fds_.size() && fds_[fd].listener;
  }
  bool hung_up(int fd) const {
    return static_cast<std::size_t>(fd) < fds_.size() && fds_[fd].hung_up;
  }

  int wait(int fd, direction dir, deadline until) {
    scheduler* sched = scheduler::current();
    coroutine* self = scheduler::current_coroutine();
    if (sched->cancelled(self)) return -ECANCELED;
    fd_state& st = state(fd);
    if (!st.registered) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) return -errno;
      st.registered = true;
    }
    coroutine*& waiter = dir == direction::read ? st.reader : st.writer;
    if (waiter != nullptr) return -EALREADY;
    waiter = self;
    const wake_reason why = sched->park(until);
    // Index again: fds_ may have grown (and moved) while we were parked.
    (dir == direction::read ? fds_[fd].reader : fds_[fd].writer) = nullptr;
    return from_wake(why);
  }

  buffer_pool pool_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  std::vector<fd_state> fds_;
};

}  // namespace

std::unique_ptr<reactor> make_epoll_reactor(const reactor_options& opts) {
  return std::make_unique<epoll_reactor>(opts);
}

void close_after_fork(reactor& epoll) { static_cast<epoll_reactor&>(epoll).close_after_fork(); }

}  // namespace echod::io
