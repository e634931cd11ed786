// The io_uring backend's core: the ring (set up with the newest flags the kernel takes), the
// submission queue, perform() (one operation, parked on until it completes or is cancelled), the
// poll and the completion dispatch, and the operations that are one SQE each (connect, read_some,
// send). Accepting, receiving and probing live in the reactor_uring_*.cpp files beside it.
#include "io/reactor_uring.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>

#include "io/reactor_uring_impl.hpp"
#include "runtime/tsan.hpp"

namespace echod::io {
namespace uring {
namespace {

// Flags tried in order: the newest first, falling back on -EINVAL from older kernels.
// SINGLE_ISSUER|DEFER_TASKRUN: completions are processed only when this thread asks, so no
// inter-processor interrupts; the ring is created by the thread that uses it, as required.
constexpr unsigned setup_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN,
    0,
};

// liburing maps and unmaps a ring's memory with raw system calls (it is built without libc), so
// ThreadSanitizer never sees a ring's pages go away. When a ring that one thread tore down is
// mapped again at the same address by another thread, the new owner's first writes would look
// like a race with the old owner's last ones. The kernel orders the two (the unmap comes before
// the later map); this token tells TSan so.
char ring_memory_reuse;

}  // namespace

void exit_ring(io_uring& ring) {
  runtime::tsan::happens_before(&ring_memory_reuse);
  io_uring_queue_exit(&ring);
}

int init_ring(io_uring& ring, unsigned entries, unsigned& flags_used) {
  int r = -EINVAL;
  for (unsigned flags : setup_flag_sets) {
    io_uring_params params{};
    // A multishot recv posts many completions per submission: a completion queue four times the
    // submission queue keeps them from overflowing (CLAMP: the kernel caps it, 5.5+).
    params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    params.cq_entries = entries * 4;
    r = io_uring_queue_init_params(entries, &ring, &params);
    if (r == 0) {
      runtime::tsan::happens_after(&ring_memory_reuse);
      flags_used = flags;
      return 0;
    }
    if (r != -EINVAL) return r;
  }
  return r;
}

uring_reactor::uring_reactor(const reactor_options& opts)
    : reactor(opts.counters), pool_(opts.buffer_size, opts.cached_buffers) {
  const int r = init_ring(ring_, opts.ring_entries, setup_flags_);
  if (r < 0) throw std::system_error(-r, std::generic_category(), "io_uring_setup");
  // Every io_uring_enter then skips looking the ring's file up (kernel 5.18+); optional.
  io_uring_register_ring_fd(&ring_);
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    exit_ring(ring_);
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  if (opts.multishot) setup_buffer_ring(opts.ring_buffers, opts.ring_buffer_size);
  if (multishot_) {
    recv_limit_ =
        static_cast<std::uint32_t>(std::min<std::size_t>(max_queued_ * ring_size_, 1U << 30));
    bundles_ = opts.recv_bundles && (ring_.features & IORING_FEAT_RECVSEND_BUNDLE);
  }
  multishot_accept_ = opts.multishot;
}

uring_reactor::~uring_reactor() {
  exit_ring(ring_);
  for (const auto& l : listeners_) {
    for (const int fd : l->taken) ::close(fd);
    if (l->slot != nullptr)
      l->slot->owner = nullptr;  // a listener that outlives us forgets nothing
  }
  ::close(wake_fd_);
  if (bufs_ != nullptr) munmap(bufs_, ring_count_ * ring_size_);
  if (br_ != nullptr) munmap(br_, ring_count_ * sizeof(io_uring_buf));
}

// The socket stays non-blocking, as on epoll. Recent kernels (6.x) arm a poll and complete the
// connect; older ones may answer -EINPROGRESS or -EAGAIN: then wait for writability and read
// the outcome from SO_ERROR, as epoll does.
int uring_reactor::connect(fd_slot& s, const sockaddr* to, socklen_t len, deadline until) {
  const claim c(s, writing);
  if (c.refused) return c.refused;
  const int r =
      perform([&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, s.fd, to, len); }, until);
  if (r != -EINPROGRESS && r != -EAGAIN) return r;
  if (const int w = wait_for(s.fd, POLLOUT, until); w < 0) return w;
  return connect_outcome(s.fd);
}

io_result uring_reactor::read_some(fd_slot& s, void* buf, std::size_t len, deadline until) {
  const claim c(s, reading);
  if (c.refused) return c.refused;
  for (;;) {
    const int r =
        perform([&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, s.fd, buf, len, 0); }, until);
    if (r != -EAGAIN && r != -EINTR) return r;
    if (const int w = wait_for(s.fd, POLLIN, until); w < 0) return w;
  }
}

template <typename Prep>
io_result uring_reactor::send_with(Prep&& prep, fd_slot& s, std::size_t len, deadline until) {
  const claim c(s, writing);
  if (c.refused) return c.refused;
  for (;;) {
    const int r = perform(prep, until);
    if (r > 0 && static_cast<std::size_t>(r) < len) io_counters::add(counters_->short_sends, 1);
    if (r != -EAGAIN && r != -EINTR) return r;
    if (const int w = wait_for(s.fd, POLLOUT, until); w < 0) return w;
  }
}

io_result uring_reactor::write_some(fd_slot& s, const void* buf, std::size_t len, deadline until) {
  return send_with(
      [&](io_uring_sqe* sqe) { io_uring_prep_send(sqe, s.fd, buf, len, MSG_NOSIGNAL); }, s, len,
      until);
}

io_result uring_reactor::write_some(fd_slot& s, std::span<const iovec> iov, deadline until) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  std::size_t len = 0;
  for (const iovec& v : iov) len += v.iov_len;
  return send_with([&](io_uring_sqe* sqe) { io_uring_prep_sendmsg(sqe, s.fd, &msg, MSG_NOSIGNAL); },
                   s, len, until);
}

// A poll request, which keeps nothing once it completes or is cancelled.
int uring_reactor::wait_readable(int fd, deadline until) {
  if (fd < 0) return -EBADF;
  for (const int* w : raw_waits_) {
    if (*w == fd) return -EALREADY;
  }
  int waiting = fd;
  raw_waits_.push_back(&waiting);
  const int r = wait_for(fd, POLLIN, until);
  std::erase(raw_waits_, &waiting);
  return r;
}

void uring_reactor::forget(int fd) {
  for (int* w : raw_waits_) {
    if (*w == fd) *w = -1;  // matches no later wait on a descriptor that reuses the number
  }
}

// A multishot recv outlives close(): the request holds the file. Cancel it and keep its
// user_data as an orphan: its last completions only give their buffers back (see on_recv()).
void uring_reactor::forget(fd_slot& s) {
  if (s.s.listener) forget_listener(s);
  bool forwarded = false;  // armed only through a recv armed before a move (see moved())
  for (orphan& o : orphans_) {
    if (o.forward == &s) {
      o.forward = nullptr;
      forwarded = true;
    }
  }
  if (s.s.armed && !forwarded) {
    const std::uint64_t data = recv_data(s, s.s);
    cancel_recv(data);
    orphans_.push_back({data, nullptr});
  }
  give_back_queue(s.s);
  s.s = {};
  s.owner = nullptr;
}

// The kernel's requests keep `from`'s address: a listener's state is repointed; an armed recv is
// cancelled and its last completions forwarded to `to`, which re-arms only once they are in (so
// nothing is reordered, and nothing received is lost).
void uring_reactor::moved(fd_slot& from, fd_slot& to) {
  if (to.s.listener) {
    for (const auto& l : listeners_) {
      if (l->slot == &from) l->slot = &to;
    }
  }
  bool forwarded = false;
  for (orphan& o : orphans_) {
    if (o.forward == &from) {
      o.forward = &to;
      forwarded = true;
    }
  }
  if (to.s.armed && !forwarded) {
    const std::uint64_t data = recv_data(from, to.s);
    cancel_recv(data);
    orphans_.push_back({data, &to});
    to.s.paused = true;  // so its -ECANCELED end is ours, not an error to report
  }
}

void uring_reactor::poll(std::chrono::nanoseconds timeout) {
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
  if (ring_.cq.koverflow != nullptr) {
    const unsigned overflow = IO_URING_READ_ONCE(*ring_.cq.koverflow);
    if (overflow != cq_overflow_seen_) {
      io_counters::add(counters_->cq_overflows, overflow - cq_overflow_seen_);
      cq_overflow_seen_ = overflow;
    }
  }
}

void uring_reactor::interrupt() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);
}

io_uring_sqe* uring_reactor::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The submission queue is full: hand the batch to the kernel now rather than wait a turn.
    io_counters::add(counters_->sq_full_waits, 1);
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

int uring_reactor::wait_for(int fd, unsigned events, deadline until) {
  const int r = perform([&](io_uring_sqe* sqe) { io_uring_prep_poll_add(sqe, fd, events); }, until);
  return r < 0 ? r : 0;
}

void uring_reactor::arm_wake() {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_buffer_, sizeof wake_buffer_, 0);
  io_uring_sqe_set_data64(sqe, wake_completion);
  wake_armed_ = true;
}

void uring_reactor::reap() {
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
    if ((data & 3) == recv_tag) {
      on_recv(cqe, data);
      continue;
    }
    if ((data & 7) == accept_tag) {
      on_accept(cqe, data);
      continue;
    }
    auto* op = reinterpret_cast<operation*>(data);
    op->result = cqe->res;
    op->done = true;
    sched->wake(op->waiter);
  }
  io_uring_cq_advance(&ring_, seen);
}

}  // namespace uring

std::unique_ptr<reactor> make_uring_reactor(const reactor_options& opts) {
  return std::make_unique<uring::uring_reactor>(opts);
}

}  // namespace echod::io
