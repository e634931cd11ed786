#include "io/reactor_uring.hpp"

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "io/buffer_pool.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/tsan.hpp"

namespace echod::io {
namespace {

using runtime::coroutine;
using runtime::scheduler;
using runtime::wake_reason;

// user_data values that are not operation records (those are pointers, 8-aligned, never 0 or 1).
constexpr std::uint64_t ignored_completion = 0;  // cancel requests: their own result is noise
constexpr std::uint64_t wake_completion = 1;     // the eventfd read interrupt() completes
// A multishot recv: not a pointer but (generation << 32 | fd << 3 | recv_tag), so a completion
// that comes after its connection is gone (closed while armed) lands on no freed memory: a stale
// generation only gives its buffer back.
constexpr std::uint64_t recv_tag = 2;
constexpr std::uint64_t recv_data(int fd, std::uint32_t generation) {
  return std::uint64_t{generation} << 32 | static_cast<std::uint64_t>(fd) << 3 | recv_tag;
}

// A multishot accept: (generation << 32 | listener fd << 3 | accept_tag), for the same reason.
constexpr std::uint64_t accept_tag = 3;

// The provided buffer group of each thread's ring (one ring per reactor, so one group).
constexpr int buffer_group = 0;

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

// liburing maps and unmaps a ring's memory with raw system calls (it is built without libc), so
// ThreadSanitizer never sees a ring's pages go away. When a ring that one thread tore down is
// mapped again at the same address by another thread, the new owner's first writes would look
// like a race with the old owner's last ones. The kernel orders the two (the unmap comes before
// the later map); this token tells TSan so.
char ring_memory_reuse;

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

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const reactor_options& opts)
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
    multishot_accept_ = opts.multishot;
  }

  ~uring_reactor() override {
    exit_ring(ring_);
    for (const auto& l : listeners_) {
      for (const int fd : l->taken) ::close(fd);
    }
    ::close(wake_fd_);
    if (bufs_ != nullptr) munmap(bufs_, ring_count_ * ring_size_);
    if (br_ != nullptr) munmap(br_, ring_count_ * sizeof(io_uring_buf));
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
  int add_listener(int listen_fd, acceptors who) override {
    if (listen_fd < 0) return -EBADF;
    listen_state* l = find_listener(listen_fd);
    if (l == nullptr) {
      listeners_.push_back(std::make_unique<listen_state>());
      l = listeners_.back().get();
      l->fd = listen_fd;
      l->generation = ++listener_generations_;
    }
    l->alone = who == acceptors::one;
    return 0;
  }

  int accept(int listen_fd, deadline until) override {
    listen_state* l = find_listener(listen_fd);
    if (l == nullptr) return -EINVAL;
    const claim c(*this, listen_fd, reading);
    if (c.refused) return c.refused;
    // Cancelled: hand out what was taken ahead, take nothing new (see reactor.hpp).
    if (scheduler::current()->cancelled(scheduler::current_coroutine())) {
      return l->taken.empty() ? -ECANCELED : l->take();
    }
    if (multishot_accept_ && l->alone) {
      const int r = accept_multishot(*l, until);
      if (r != -EINVAL || multishot_accept_) return r;
      // The kernel has no multishot accept (before 5.19): single-shot from now on.
    }
    const int r = accept_or_wait(listen_fd, until);
    if (r != -ECANCELED && r != -ETIMEDOUT) return r;
    return take_once_more(listen_fd, r);
  }

  // The socket stays non-blocking, as on epoll. Recent kernels (6.x) arm a poll and complete the
  // connect; older ones may answer -EINPROGRESS or -EAGAIN: then wait for writability and read
  // the outcome from SO_ERROR, as epoll does.
  int connect(int fd, const sockaddr* to, socklen_t len, deadline until) override {
    const claim c(*this, fd, writing);
    if (c.refused) return c.refused;
    const int r =
        perform([&](io_uring_sqe* sqe) { io_uring_prep_connect(sqe, fd, to, len); }, until);
    if (r != -EINPROGRESS && r != -EAGAIN) return r;
    if (const int w = wait_for(fd, POLLOUT, until); w < 0) return w;
    return connect_outcome(fd);
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

  io_result receive(int fd, received& into, deadline until) override {
    const claim c(*this, fd, reading);
    if (c.refused) return c.refused;
    if (multishot_) {
      const io_result r = receive_multishot(fd, into, until);
      if (r != -EINVAL || multishot_) return r;
      // The kernel has buffer rings but not multishot recv (5.19): the older path from now on.
    }
    return receive_pooled(fd, into, until);
  }

  void release(std::span<const chunk> chunks) override {
    unsigned to_ring = 0;
    for (const chunk& ch : chunks) {
      if (ch.data >= bufs_ && ch.data < bufs_ + ring_count_ * ring_size_) {
        ring_add(ch.id, to_ring++);
      } else {
        pool_.give_back(ch.data);
      }
    }
    if (to_ring != 0) returned_to_ring(to_ring);
  }

  io_result write_some(int fd, const void* buf, std::size_t len, deadline until) override {
    return send_with(
        [&](io_uring_sqe* sqe) { io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL); }, fd, len,
        until);
  }

  io_result write_some(int fd, std::span<const iovec> iov, deadline until) override {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov.data());
    msg.msg_iovlen = iov.size();
    std::size_t len = 0;
    for (const iovec& v : iov) len += v.iov_len;
    return send_with([&](io_uring_sqe* sqe) { io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL); },
                     fd, len, until);
  }

  std::size_t buffers_lent() const override { return pool_.lent() + ring_lent_; }

  int wait_readable(int fd, deadline until) override {
    const claim c(*this, fd, reading);
    return c.refused ? c.refused : wait_for(fd, POLLIN, until);
  }

  // A multishot recv outlives close(): the request holds the file. Cancel it; its last
  // completions carry the old generation and only give their buffers back (see reap()).
  void forget(int fd) override {
    forget_listener(fd);
    if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return;
    fd_slot& s = slots_[static_cast<std::size_t>(fd)];
    if (s.armed) cancel_recv(fd, s);
    give_back_queue(s);
    ++s.generation;
    s.armed = s.paused = s.eof = s.drained = s.ever_armed = s.ever_received = false;
    s.ended = 0;
    s.receiver = nullptr;
  }

  // Its multishot accept, if armed, is cancelled; what it took and nobody asked for is closed
  // (accept() after a cancel hands all of it out first, so a server's acceptor leaves none).
  void forget_listener(int fd) {
    listen_state* l = find_listener(fd);
    if (l == nullptr) return;
    l->forgotten = true;
    if (l->armed) cancel_accept(*l);
    for (const int taken : l->taken) ::close(taken);
    l->taken.clear();
    if (l->acceptor != nullptr) {
      scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
    } else {
      drop_if_unused(*l);
    }
  }

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
    if (ring_.cq.koverflow != nullptr) {
      const unsigned overflow = IO_URING_READ_ONCE(*ring_.cq.koverflow);
      if (overflow != cq_overflow_seen_) {
        io_counters::add(counters_->cq_overflows, overflow - cq_overflow_seen_);
        cq_overflow_seen_ = overflow;
      }
    }
  }

  void interrupt() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_fd_, &one, sizeof one);
  }

  unsigned setup_flags() const { return setup_flags_; }

 private:
  // What the reactor keeps per fd: the waits in progress, and the multishot recv's state. Slots
  // are indexed by fd and outlive it; `generation` tells a reused fd from its predecessor.
  struct fd_slot {
    runtime::coroutine* receiver = nullptr;  ///< parked in receive_multishot()
    std::uint32_t generation = 0;
    std::int32_t head = -1;  ///< buffers received, not yet handed out: bids, linked by next_
    std::int32_t tail = -1;
    std::uint32_t queued = 0;
    int ended = 0;               ///< how the last multishot ended (-errno), not yet acted on
    std::uint8_t claims = 0;     ///< directions waited on (reading, writing)
    bool armed = false;          ///< a multishot recv is in the kernel
    bool ever_armed = false;     ///< the next arming is a re-arm (counted)
    bool paused = false;         ///< we cancelled it: too much queued; re-armed once taken
    bool eof = false;            ///< the multishot saw end of stream, after the queued bytes
    bool ever_received = false;  ///< a multishot brought bytes (so -EINVAL is not "unsupported")
    bool drained = false;        ///< the pooled path's last recv emptied the socket: poll first
  };

  fd_slot& slot(int fd) {
    const auto at = static_cast<std::size_t>(fd);
    if (at >= slots_.size()) slots_.resize(at + 64);
    return slots_[at];
  }

  // Which directions of each fd a coroutine waits on (bits), so that a second waiter is refused
  // as on epoll, where the per-fd waiter slot would otherwise be overwritten.
  enum : std::uint8_t { reading = 1, writing = 2 };
  struct claim {
    claim(uring_reactor& r, int fd, std::uint8_t dir) : slots(r.slots_), fd(fd), dir(dir) {
      if (fd < 0) {
        refused = -EBADF;
        return;
      }
      fd_slot& s = r.slot(fd);
      if (s.claims & dir) {
        refused = -EALREADY;
        return;
      }
      s.claims |= dir;
    }
    // Index again at the end: the vector may have grown while this coroutine waited.
    ~claim() {
      if (refused == 0) {
        slots[static_cast<std::size_t>(fd)].claims &= static_cast<std::uint8_t>(~dir);
      }
    }
    claim(const claim&) = delete;
    claim& operator=(const claim&) = delete;
    std::vector<fd_slot>& slots;
    int fd;
    std::uint8_t dir;
    int refused = 0;  ///< -EALREADY (another waits) or -EBADF; 0 when the claim is held
  };

  // ---- multishot recv into the provided buffer ring ----

  // Falls back (leaves multishot_ false) where the kernel has no buffer rings (before 5.19).
  void setup_buffer_ring(unsigned count, std::size_t size) {
    const std::size_t ring_bytes = count * sizeof(io_uring_buf);
    void* ring_mem =
        mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring_mem == MAP_FAILED) return;
    // Untouched buffers cost no memory: pages come as the ring first cycles through them.
    void* buf_mem = mmap(nullptr, count * size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (buf_mem == MAP_FAILED) {
      munmap(ring_mem, ring_bytes);
      return;
    }
    br_ = static_cast<io_uring_buf_ring*>(ring_mem);
    bufs_ = static_cast<char*>(buf_mem);
    ring_count_ = count;
    ring_size_ = size;
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
    reg.ring_entries = count;
    reg.bgid = buffer_group;
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) {
      munmap(bufs_, count * size);
      munmap(br_, ring_bytes);
      br_ = nullptr;
      bufs_ = nullptr;
      return;
    }
    io_uring_buf_ring_init(br_);
    for (unsigned bid = 0; bid < count; ++bid) ring_add(bid, bid);
    io_uring_buf_ring_advance(br_, static_cast<int>(count));
    next_.assign(count, -1);
    length_.assign(count, 0);
    // One connection may queue at most this many buffers before its recv is paused (TCP's window
    // then holds the client back), so a client that sends without reading cannot empty the ring.
    max_queued_ = std::max(1U, count / 16);
    multishot_ = true;
  }

  void arm_recv(int fd, fd_slot& s) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffer_group;
    io_uring_sqe_set_data64(sqe, recv_data(fd, s.generation));
    if (s.ever_armed) io_counters::add(counters_->multishot_rearms, 1);
    s.armed = s.ever_armed = true;
  }

  void cancel_recv(int fd, const fd_slot& s) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel64(sqe, recv_data(fd, s.generation), 0);
    io_uring_sqe_set_data64(sqe, ignored_completion);
  }

  // Hands out what is queued; otherwise arms the recv if it is not, and waits. A wait that ends
  // (deadline, cancel) leaves the recv armed: what comes meanwhile queues for the next call.
  io_result receive_multishot(int fd, received& into, deadline until) {
    scheduler* sched = scheduler::current();
    coroutine* self = scheduler::current_coroutine();
    for (;;) {
      fd_slot& s = slot(fd);
      if (s.head >= 0) return hand_out(s, into);
      if (s.eof) return 0;
      if (const int r = std::exchange(s.ended, 0); r == -ENOBUFS) {
        // The bytes wait in the socket. Re-arm once a buffer is back, not before: no spinning.
        while (ring_lent_ >= ring_count_) {
          if (sched->cancelled(self)) return -ECANCELED;
          starved_.push_back(self);
          const wake_reason why = sched->park(until);
          std::erase(starved_, self);
          if (why != wake_reason::woken)
            return why == wake_reason::timed_out ? -ETIMEDOUT : -ECANCELED;
        }
        continue;
      } else if (r == -EINVAL && !s.ever_received) {
        multishot_ = false;  // no multishot recv in this kernel
        return r;
      } else if (r != 0) {
        return r;
      }
      if (sched->cancelled(self)) return -ECANCELED;
      if (!s.armed) arm_recv(fd, s);
      s.receiver = self;
      const wake_reason why = sched->park(until);
      slots_[static_cast<std::size_t>(fd)].receiver =
          nullptr;  // index again: slots_ may have grown
      if (why == wake_reason::timed_out) return -ETIMEDOUT;
      if (why == wake_reason::cancelled) return -ECANCELED;
    }
  }

  io_result hand_out(fd_slot& s, received& into) {
    io_result total = 0;
    while (s.head >= 0 && !into.full()) {
      const auto bid = static_cast<std::uint32_t>(s.head);
      s.head = next_[bid];
      --s.queued;
      into.add(*this, {bufs_ + bid * ring_size_, length_[bid], bid});
      total += length_[bid];
    }
    if (s.head < 0) s.tail = -1;
    return total;
  }

  void give_back_queue(fd_slot& s) {
    unsigned n = 0;
    for (std::int32_t bid = s.head; bid >= 0; bid = next_[static_cast<std::size_t>(bid)]) {
      ring_add(static_cast<std::uint32_t>(bid), n++);
    }
    s.head = s.tail = -1;
    s.queued = 0;
    if (n != 0) returned_to_ring(n);
  }

  // Puts buffer `bid` back into the ring, `offset` places past the tail: seen by the kernel once
  // returned_to_ring() advances the tail over every buffer added.
  void ring_add(std::uint32_t bid, unsigned offset) {
    io_uring_buf_ring_add(br_, bufs_ + bid * ring_size_, static_cast<unsigned>(ring_size_),
                          static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(static_cast<unsigned>(ring_count_)),
                          static_cast<int>(offset));
  }

  void returned_to_ring(unsigned n) {
    io_uring_buf_ring_advance(br_, static_cast<int>(n));
    ring_lent_ -= n;
    if (!starved_.empty()) {
      scheduler* sched = scheduler::current();
      for (coroutine* c : starved_) sched->wake(c);
    }
  }

  void on_recv(const io_uring_cqe* cqe, std::uint64_t data) {
    const int fd = static_cast<int>((data >> 3) & 0x1fff'ffff);
    const auto generation = static_cast<std::uint32_t>(data >> 32);
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    const bool has_buffer = cqe->flags & IORING_CQE_F_BUFFER;
    const auto bid = static_cast<std::uint32_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    if (has_buffer) ++ring_lent_;
    fd_slot* s = static_cast<std::size_t>(fd) < slots_.size()
                     ? &slots_[static_cast<std::size_t>(fd)]
                     : nullptr;
    if (s == nullptr || s->generation != generation) {  // its connection is gone
      if (has_buffer) give_back_bid(bid);
      return;
    }
    if (cqe->res > 0 && has_buffer) {
      length_[bid] = static_cast<std::uint32_t>(cqe->res);
      next_[bid] = -1;
      if (s->tail >= 0) {
        next_[static_cast<std::size_t>(s->tail)] = static_cast<std::int32_t>(bid);
      } else {
        s->head = static_cast<std::int32_t>(bid);
      }
      s->tail = static_cast<std::int32_t>(bid);
      ++s->queued;
      s->ever_received = true;
      io_counters::add(counters_->recv_completions, 1);
      io_counters::add(counters_->recv_bytes, static_cast<std::uint64_t>(cqe->res));
      if (more && !s->paused && s->queued >= max_queued_) {
        cancel_recv(fd, *s);
        s->paused = true;
      }
    } else if (has_buffer) {
      give_back_bid(bid);
    }
    if (!more) {
      s->armed = false;
      if (cqe->res == 0) {
        s->eof = true;
      } else if (cqe->res == -ENOBUFS) {
        io_counters::add(counters_->buffer_ring_empty, 1);
        s->ended = -ENOBUFS;
      } else if (cqe->res < 0 && !(s->paused && cqe->res == -ECANCELED)) {
        s->ended = cqe->res;
      }
      s->paused = false;
    }
    if (s->receiver != nullptr) scheduler::current()->wake(std::exchange(s->receiver, nullptr));
  }

  void give_back_bid(std::uint32_t bid) {
    ring_add(bid, 0);
    returned_to_ring(1);
  }

  // ---- the older path: one recv per read, into a pooled buffer ----

  // MSG_DONTWAIT makes a recv on an
  // empty socket fail at once rather than hold its buffer in the kernel; it then polls.
  io_result receive_pooled(int fd, received& into, deadline until) {
    struct adapter {
      uring_reactor& r;
      int fd;
      deadline until;
      int pending() { return r.slot(fd).ended; }
      void set_pending(int e) { r.slot(fd).ended = e; }
      bool drained() { return r.slot(fd).drained; }
      void emptied(bool) { r.slot(fd).drained = true; }
      int wait_readable() {
        const int w = r.wait_for(fd, POLLIN, until);
        if (w == 0) r.slot(fd).drained = false;
        return w;
      }
      io_result recv(char* buf, std::size_t len) {
        return r.perform(
            [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, buf, len, MSG_DONTWAIT); }, until);
      }
    };
    return io::receive_pooled(*this, pool_, *counters_, into, adapter{*this, fd, until});
  }

  template <typename Prep>
  io_result send_with(Prep&& prep, int fd, std::size_t len, deadline until) {
    const claim c(*this, fd, writing);
    if (c.refused) return c.refused;
    for (;;) {
      const int r = perform(prep, until);
      if (r > 0 && static_cast<std::size_t>(r) < len) io_counters::add(counters_->short_sends, 1);
      if (r != -EAGAIN && r != -EINTR) return r;
      if (const int w = wait_for(fd, POLLOUT, until); w < 0) return w;
    }
  }

  // ---- accepting ----

  // The kernel announces each new connection to one waiting accept only: IORING_OP_ACCEPT waits
  // on the listener exclusively, oldest waiter first, and every thread of every worker of every
  // generation waits on the same listener. An accept cancelled after its announcement came but
  // before its retry ran (a worker retiring or stopping just as a client arrives: the cancel is
  // submitted before this thread next processes its completions) takes the announcement along,
  // and the client sits in the backlog, unseen by the other waiters, until another client comes.
  // So an accept that ends early takes once more, without waiting: by then its wait is off the
  // queue, so later clients wake other waiters, and one connection covers the one announcement it
  // can have swallowed. The caller serves it like a connection accepted in time.
  static int take_once_more(int listen_fd, int otherwise) {
    int fd;
    // The listener is non-blocking: this never waits.
    do {
      fd = ::accept4(listen_fd, nullptr, nullptr, accepted_socket_flags);
    } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
    return fd >= 0 ? fd : otherwise;
  }

  // A listener registered with this reactor. Its multishot accept (only where this thread is its
  // one acceptor: armed on several threads, the exclusive wait above would stay first in line
  // for good and take every client) stays armed between accept() calls; the connections it
  // brings queue in `taken` until accept() hands them out.
  struct listen_state {
    int fd = -1;
    std::uint32_t generation = 0;   ///< tells its completions from a forgotten predecessor's
    bool alone = false;             ///< acceptors::one
    bool armed = false;             ///< a multishot accept is in the kernel
    bool ever_armed = false;        ///< the next arming is a re-arm (counted)
    bool pausing = false;           ///< cancelled: too many taken and nobody accepting
    bool ever_accepted = false;     ///< -EINVAL after a connection is not "unsupported"
    bool forgotten = false;         ///< forget(): kept only until the kernel and acceptor let go
    int ended = 0;                  ///< how the multishot ended (-errno), not yet reported
    coroutine* acceptor = nullptr;  ///< parked in accept_multishot()
    std::vector<int> taken;         ///< accepted, not yet handed out, oldest first

    int take() {
      const int fd = taken.front();
      taken.erase(taken.begin());
      return fd;
    }
  };

  // At most this many connections queue while nobody accepts (the acceptor waits for a free
  // connection slot): then the multishot is cancelled, and later clients wait in the backlog.
  static constexpr std::size_t max_taken = 64;

  listen_state* find_listener(int fd) {
    for (const auto& l : listeners_) {
      if (l->fd == fd && !l->forgotten) return l.get();
    }
    return nullptr;
  }

  // A forgotten listener's state goes once nothing refers to it: no multishot in the kernel (its
  // completions find it by generation), no acceptor parked on it.
  void drop_if_unused(listen_state& l) {
    if (l.forgotten && !l.armed && l.acceptor == nullptr) {
      std::erase_if(listeners_, [&l](const auto& p) { return p.get() == &l; });
    }
  }

  static constexpr std::uint64_t accept_data(const listen_state& l) {
    return std::uint64_t{l.generation} << 32 | static_cast<std::uint64_t>(l.fd) << 3 | accept_tag;
  }

  int accept_multishot(listen_state& l, deadline until) {
    scheduler* sched = scheduler::current();
    coroutine* self = scheduler::current_coroutine();
    for (;;) {
      if (!l.taken.empty()) return l.take();
      if (const int r = std::exchange(l.ended, 0); r == -EINVAL && !l.ever_accepted) {
        multishot_accept_ = false;
        return r;
      } else if (r != 0 && r != -ECONNABORTED && r != -EINTR) {
        return r;  // e.g. -EMFILE: the caller backs off; the next call arms again
      }
      if (!l.armed) arm_accept(l);
      l.acceptor = self;
      const wake_reason why = sched->park(until);
      l.acceptor = nullptr;
      if (why != wake_reason::woken) {
        const int r = why == wake_reason::timed_out ? -ETIMEDOUT : -ECANCELED;
        return end_multishot_accept(l, r);
      }
      if (l.forgotten) {  // closed under us
        drop_if_unused(l);
        return -EBADF;
      }
    }
  }

  // The accept wait ended early (deadline, cancel): nothing may keep taking clients this thread
  // will not ask for. Cancel the multishot and wait, pinned, for its last completion; then hand
  // out what it took, or take once more (it may have swallowed an announcement, as above).
  int end_multishot_accept(listen_state& l, int otherwise) {
    if (l.armed) {
      cancel_accept(l);
      while (l.armed) {
        l.acceptor = scheduler::current_coroutine();
        scheduler::current()->park_pinned();
      }
      l.acceptor = nullptr;
    }
    if (l.forgotten) {
      drop_if_unused(l);
      return otherwise;
    }
    l.ended = 0;
    return l.taken.empty() ? take_once_more(l.fd, otherwise) : l.take();
  }

  void arm_accept(listen_state& l) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, accepted_socket_flags);
    io_uring_sqe_set_data64(sqe, accept_data(l));
    if (l.ever_armed) io_counters::add(counters_->multishot_rearms, 1);
    l.armed = l.ever_armed = true;
    l.pausing = false;
  }

  void cancel_accept(const listen_state& l) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_cancel64(sqe, accept_data(l), 0);
    io_uring_sqe_set_data64(sqe, ignored_completion);
  }

  void on_accept(const io_uring_cqe* cqe, std::uint64_t data) {
    const auto generation = static_cast<std::uint32_t>(data >> 32);
    const auto it = std::find_if(listeners_.begin(), listeners_.end(), [generation](const auto& p) {
      return p->generation == generation;
    });
    if (it == listeners_.end()) {
      if (cqe->res >= 0) ::close(cqe->res);
      return;
    }
    listen_state* l = it->get();
    if (l->forgotten) {  // taken as its listener was forgotten: nobody will ask for it
      if (cqe->res >= 0) ::close(cqe->res);
      if (!(cqe->flags & IORING_CQE_F_MORE)) l->armed = false;
      if (l->acceptor != nullptr) {
        scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
      } else {
        drop_if_unused(*l);
      }
      return;
    }
    if (cqe->res >= 0) {
      l->taken.push_back(cqe->res);
      l->ever_accepted = true;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
      l->armed = false;
      if (cqe->res < 0 && cqe->res != -ECANCELED) l->ended = cqe->res;
    } else if (l->acceptor == nullptr && !l->pausing && l->taken.size() >= max_taken) {
      cancel_accept(*l);
      l->pausing = true;
    }
    if (l->acceptor != nullptr) scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
  }

  int accept_or_wait(int listen_fd, deadline until) {
    for (;;) {
      const int r = perform(
          [&](io_uring_sqe* sqe) {
            io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, accepted_socket_flags);
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
      io_counters::add(counters_->sq_full_waits, 1);
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
      if ((data & 7) == recv_tag) {
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

  io_uring ring_{};
  unsigned setup_flags_ = 0;
  int wake_fd_ = -1;
  std::uint64_t wake_buffer_ = 0;
  bool wake_armed_ = false;
  std::vector<fd_slot> slots_;                            ///< per fd, indexed by fd
  std::vector<std::unique_ptr<listen_state>> listeners_;  ///< stable: acceptors point into them
  std::uint32_t listener_generations_ = 0;
  bool multishot_accept_ = false;  ///< IORING_ACCEPT_MULTISHOT (5.19+), unless switched off

  buffer_pool pool_;  ///< the older path's buffers
  // The provided buffer ring (multishot_): ring_count_ buffers of ring_size_ bytes at bufs_.
  bool multishot_ = false;
  io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;
  std::size_t ring_count_ = 0;
  std::size_t ring_size_ = 0;
  std::size_t ring_lent_ = 0;          ///< taken by the kernel, not yet given back
  std::vector<std::int32_t> next_;     ///< per bid: the next bid queued for the same fd
  std::vector<std::uint32_t> length_;  ///< per bid: the bytes received into it
  std::uint32_t max_queued_ = 1;
  std::vector<coroutine*> starved_;  ///< receivers waiting for a buffer after ENOBUFS
  unsigned cq_overflow_seen_ = 0;
};

}  // namespace

std::unique_ptr<reactor> make_uring_reactor(const reactor_options& opts) {
  return std::make_unique<uring_reactor>(opts);
}

namespace {

// Multishot accept (5.19) has no opcode of its own: arm one on a listening Unix socket (no port,
// no network) and cancel it. A kernel without it fails the request with -EINVAL at once.
bool probe_multishot_accept(io_uring& ring) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sa_family_t autobind = AF_UNIX;  // an abstract name the kernel picks
  bool supported = false;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&autobind), sizeof autobind) == 0 &&
      ::listen(fd, 1) == 0) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, accepted_socket_flags);
    io_uring_sqe_set_data64(sqe, 1);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel64(sqe, 1, 0);
    io_uring_sqe_set_data64(sqe, 2);
    io_uring_submit(&ring);
    for (int seen = 0; seen < 2; ++seen) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring, &cqe) != 0) break;
      if (cqe->user_data == 1) supported = cqe->res == -ECANCELED;
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  ::close(fd);
  return supported;
}

}  // namespace

io_uring_probe run_io_uring_probe() {
  io_uring_probe result;
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
  // A provided buffer ring (5.19) carries the multishot recv; without one, receives take the older
  // path by themselves. Registered on the probe ring, so the start line says which path serves.
  void* probe_ring =
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe_ring != MAP_FAILED) {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(probe_ring);
    reg.ring_entries = 1;
    reg.bgid = buffer_group;
    if (io_uring_register_buf_ring(&ring, &reg, 0) == 0) {
      result.features.push_back("BUF_RING");
      io_uring_unregister_buf_ring(&ring, buffer_group);
    }
    munmap(probe_ring, 4096);
  }
  if (probe_multishot_accept(ring)) result.features.push_back("ACCEPT_MULTISHOT");
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
  exit_ring(ring);
  if (!missing.empty()) {
    result.reason = "io_uring lacks" + missing;
    return result;
  }
  result.usable = true;
  return result;
}

}  // namespace echod::io
