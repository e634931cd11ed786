#include "io/reactor_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <vector>

#include "runtime/scheduler.hpp"

namespace echod::io {
namespace {

using runtime::coroutine;
using runtime::scheduler;
using runtime::wake_reason;

// user_data values that are not operation records (those are pointers, never 0 or 1).
constexpr std::uint64_t ignored_completion = 0;  // cancel requests: their own result is noise
constexpr std::uint64_t wake_completion = 1;     // the eventfd read interrupt() completes

// One operation in flight: lives on the waiting coroutine's stack until the kernel is done.
struct operation {
  coroutine* waiter;
  int result = 0;
  bool done = false;
};

// Flags tried in order: the newest first, falling back on -EINVAL from older kernels.
// SINGLE_ISSUER|DEFER_TASKRUN: completions are processed only when this thread asks, so no
// inter-processor interrupts; the ring is created by the thread that uses it, as required.
constexpr unsigned setup_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN,
    0,
};

int init_ring(io_uring& ring, unsigned entries, unsigned& flags_used) {
  int r = -EINVAL;
  for (unsigned flags : setup_flag_sets) {
    io_uring_params params{};
    params.flags = flags;
    r = io_uring_queue_init_params(entries, &ring, &params);
    if (r == 0) {
      flags_used = flags;
      return 0;
    }
    if (r != -EINVAL) return r;
  }
  return r;
}

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const reactor_options& opts) {
    const int r = init_ring(ring_, opts.ring_entries, setup_flags_);
    if (r < 0) throw std::system_error(-r, std::generic_category(), "io_uring_setup");
    // Every io_uring_enter then skips looking the ring's file up (kernel 5.18+); optional.
    io_uring_register_ring_fd(&ring_);
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
      io_uring_queue_exit(&ring_);
      throw std::system_error(errno, std::generic_category(), "eventfd");
    }
  }

  ~uring_reactor() override {
    io_uring_queue_exit(&ring_);
    ::close(wake_fd_);
  }

  const char* name() const override { return "io_uring"; }

  // The kernel announces each new connection to one waiting accept only: IORING_OP_ACCEPT waits
  // on the listener exclusively, oldest waiter first, and every thread of every worker of every
  // generation waits on the same listener. An accept cancelled after its announcement came but
  // before its retry ran (a worker retiring or stopping just as a client arrives: the cancel is
  // submitted before this thread next processes its completions) takes the announcement along,
  // and the client sits in the backlog, unseen by the other waiters, until another client comes.
  // So an accept that ends early takes once more, without waiting: by then its wait is off the
  // queue, so later clients wake other waiters, and one connection covers the one announcement it
  // can have swallowed. The caller serves it like a connection accepted in time.
  int accept(int listen_fd, deadline until) override {
    const claim c(*this, listen_fd, reading);
    if (c.refused) return c.refused;
    const int r = accept_or_wait(listen_fd, until);
    if (r != -ECANCELED && r != -ETIMEDOUT) return r;
    int fd;
    // The listener is non-blocking: this never waits. The ring's accept flags (no O_NONBLOCK).
    do {
      fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    return fd >= 0 ? fd : r;
  }

  int connect(int fd, const sockaddr* to, socklen_t len, deadline until) override {
    const claim c(*this, fd, writing);
    if (c.refused) return c.refused;
    // The ring waits for us; a blocking socket lets the kernel arm its poll instead of failing
    // the request with -EAGAIN.
    set_blocking(fd);
    return perform([&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, to, len); }, until);
  }

  io_result read_some(int fd, void* buf, std::size_t len, deadline until) override {
    const claim c(*this, fd, reading);
    if (c.refused) return c.refused;
    for (;;) {
      const int r =
          perform([&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, buf, len, 0); }, until);
      if (r != -EAGAIN && r != -EINTR) return r;
      if (const int w = wait_for(fd, POLLIN, until); w < 0) return w;
    }
  }

  io_result write_some(int fd, const void* buf, std::size_t len, deadline until) override {
    const claim c(*this, fd, writing);
    if (c.refused) return c.refused;
    for (;;) {
      const int r = perform(
          [&](io_uring_sqe* sqe) { io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL); }, until);
      if (r != -EAGAIN && r != -EINTR) return r;
      if (const int w = wait_for(fd, POLLOUT, until); w < 0) return w;
    }
  }

  int wait_readable(int fd, deadline until) override {
    const claim c(*this, fd, reading);
    return c.refused ? c.refused : wait_for(fd, POLLIN, until);
  }

  void forget(int) override {}

  void poll(std::chrono::nanoseconds timeout) override {
    if (!wake_armed_) arm_wake();
    if (timeout.count() == 0) {
      io_uring_submit_and_get_events(&ring_);
    } else {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{};
      __kernel_timespec* tsp = nullptr;
      if (timeout.count() > 0) {
        ts.tv_sec = timeout.count() / 1'000'000'000;
        ts.tv_nsec = timeout.count() % 1'000'000'000;
        tsp = &ts;
      }
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
    }
    reap();
  }

  void interrupt() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }

  unsigned setup_flags() const { return setup_flags_; }

 private:
  // Which directions of each fd a coroutine waits on (bits), so that a second waiter is refused
  // as on epoll, where the per-fd waiter slot would otherwise be overwritten.
  enum : std::uint8_t { reading = 1, writing = 2 };
  struct claim {
    claim(uring_reactor& r, int fd, std::uint8_t dir) : waiting(r.waiting_), fd(fd), dir(dir) {
      if (fd < 0) {
        refused = -EBADF;
        return;
      }
      const auto at = static_cast<std::size_t>(fd);
      if (at >= waiting.size()) waiting.resize(at + 64);
      if (waiting[at] & dir) {
        refused = -EALREADY;
        return;
      }
      waiting[at] |= dir;
    }
    // Index again at the end: the vector may have grown while this coroutine waited.
    ~claim() {
      if (refused == 0) waiting[static_cast<std::size_t>(fd)] &= static_cast<std::uint8_t>(~dir);
    }
    claim(const claim&) = delete;
    claim& operator=(const claim&) = delete;
    std::vector<std::uint8_t>& waiting;
    int fd;
    std::uint8_t dir;
    int refused = 0;  ///< -EALREADY (another waits) or -EBADF; 0 when the claim is held
  };

  int accept_or_wait(int listen_fd, deadline until) {
    for (;;) {
      const int r = perform(
          [&](io_uring_sqe* sqe) {
            io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
          },
          until);
      if (r == -ECONNABORTED || r == -EINTR) continue;
      // The listener is non-blocking (its file is shared with epoll workers): wait, then retry.
      if (r == -EAGAIN) {
        if (const int w = wait_for(listen_fd, POLLIN, until); w < 0) return w;
        continue;
      }
      return r;
    }
  }

  io_uring_sqe* next_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      // The submission queue is full: hand the batch to the kernel now rather than wait a turn.
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  template <typename Prep>
  int perform(Prep&& prep, deadline until) {
    scheduler* sched = scheduler::current();
    coroutine* self = scheduler::current_coroutine();
    if (sched->cancelled(self)) return -ECANCELED;
    operation op{self};
    io_uring_sqe* sqe = next_sqe();
    prep(sqe);
    io_uring_sqe_set_data(sqe, &op);
    wake_reason why = wake_reason::woken;
    while (!op.done && why == wake_reason::woken) why = sched->park(until);
    if (!op.done) {
      io_uring_sqe* cancel = next_sqe();
      io_uring_prep_cancel(cancel, &op, 0);
      io_uring_sqe_set_data64(cancel, ignored_completion);
      while (!op.done) sched->park_pinned();
      // It may have completed anyway (data read, connection accepted): then that result stands.
      if (op.result == -ECANCELED || op.result == -EINTR) {
        return why == wake_reason::timed_out ? -ETIMEDOUT : -ECANCELED;
      }
    }
    return op.result;
  }

  int wait_for(int fd, unsigned events, deadline until) {
    const int r =
        perform([&](io_uring_sqe* sqe) { io_uring_prep_poll_add(sqe, fd, events); }, until);
    return r < 0 ? r : 0;
  }

  void arm_wake() {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_buffer_, sizeof wake_buffer_, 0);
    io_uring_sqe_set_data64(sqe, wake_completion);
    wake_armed_ = true;
  }

  void reap() {
    scheduler* sched = scheduler::current();
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      const std::uint64_t data = io_uring_cqe_get_data64(cqe);
      if (data == ignored_completion) continue;
      if (data == wake_completion) {
        wake_armed_ = false;
        continue;
      }
      auto* op = reinterpret_cast<operation*>(data);
      op->result = cqe->res;
      op->done = true;
      sched->wake(op->waiter);
    }
    io_uring_cq_advance(&ring_, seen);
  }

  static void set_blocking(int fd) {
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  }

  io_uring ring_{};
  unsigned setup_flags_ = 0;
  int wake_fd_ = -1;
  std::uint64_t wake_buffer_ = 0;
  bool wake_armed_ = false;
  std::vector<std::uint8_t> waiting_;  ///< per fd: the claim directions held (reading, writing)
};

}  // namespace

std::unique_ptr<reactor> make_uring_reactor(const reactor_options& opts) {
  return std::make_unique<uring_reactor>(opts);
}

io_uring_probe run_io_uring_probe() {
  io_uring_probe result;
  result.compiled_in = true;
  io_uring ring{};
  unsigned flags = 0;
  if (const int r = init_ring(ring, 8, flags); r < 0) {
    result.reason = std::string("io_uring_setup: ") + std::strerror(-r);
    return result;
  }
  if (flags & IORING_SETUP_DEFER_TASKRUN) result.features.push_back("DEFER_TASKRUN");
  if (flags & IORING_SETUP_SINGLE_ISSUER) result.features.push_back("SINGLE_ISSUER");
  if (flags & IORING_SETUP_COOP_TASKRUN) result.features.push_back("COOP_TASKRUN");
  if (io_uring_register_ring_fd(&ring) == 1) result.features.push_back("REGISTERED_RING_FD");
  const unsigned feats = ring.features;
  const std::pair<unsigned, const char*> named[] = {
      {IORING_FEAT_FAST_POLL, "FAST_POLL"},
      {IORING_FEAT_NODROP, "NODROP"},
      {IORING_FEAT_EXT_ARG, "EXT_ARG"},
      {IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"},
  };
  for (const auto& [bit, name] : named) {
    if (feats & bit) result.features.push_back(name);
  }
  // EXT_ARG carries the wait timeout; without it the loop could not sleep with a deadline.
  std::string missing;
  if (!(feats & IORING_FEAT_EXT_ARG)) missing += " EXT_ARG";
  if (::io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
    const std::pair<int, const char*> ops[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_CONNECT, "CONNECT"},
        {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},
        {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_READ, "READ"},
    };
    for (const auto& [op, name] : ops) {
      if (!io_uring_opcode_supported(p, op)) missing += std::string(" ") + name;
    }
    io_uring_free_probe(p);
  } else {
    missing += " PROBE";
  }
  io_uring_queue_exit(&ring);
  if (!missing.empty()) {
    result.reason = "io_uring lacks" + missing;
    return result;
  }
  result.usable = true;
  return result;
}

}  // namespace echod::io
