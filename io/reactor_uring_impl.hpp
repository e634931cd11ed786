// The io_uring backend's one class, shared by the files that implement it (not a public header:
// reactor_uring.hpp is). The core (reactor_uring.cpp) owns the ring, submission, the poll and the
// completion dispatch; reactor_uring_accept.cpp the listeners; reactor_uring_recv.cpp the
// receive paths and the provided buffer ring; reactor_uring_probe.cpp the start-up probe.
#pragma once

#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "io/backend.hpp"
#include "io/buffer_pool.hpp"
#include "io/reactor.hpp"
#include "runtime/scheduler.hpp"

namespace echod::io::uring {

using runtime::coroutine;
using runtime::scheduler;
using runtime::wake_reason;

// user_data values that are not operation records (those are pointers, 8-aligned, never 0 or 1).
// ignored_completion: cancel requests (their own result is noise); wake_completion: the eventfd
// read interrupt() completes.
inline constexpr std::uint64_t ignored_completion = 0;
inline constexpr std::uint64_t wake_completion = 1;
// A multishot recv: not a pointer but (generation << 32 | fd << 3 | recv_tag), so a completion
// that comes after its connection is gone (closed while armed) lands on no freed memory: a stale
// generation only gives its buffer back.
inline constexpr std::uint64_t recv_tag = 2;
constexpr std::uint64_t recv_data(int fd, std::uint32_t generation) {
  return std::uint64_t{generation} << 32 | static_cast<std::uint64_t>(fd) << 3 | recv_tag;
}

// A multishot accept: (generation << 32 | listener fd << 3 | accept_tag), for the same reason.
inline constexpr std::uint64_t accept_tag = 3;

// The provided buffer group of each thread's ring (one ring per reactor, so one group).
inline constexpr int buffer_group = 0;

// One operation in flight: lives on the waiting coroutine's stack until the kernel is done.
struct operation {
  coroutine* waiter;
  int result = 0;
  bool done = false;
};

// Sets up `ring` with the newest flags the kernel takes (see reactor_uring.cpp): 0 or -errno.
int init_ring(io_uring& ring, unsigned entries, unsigned& flags_used);
void exit_ring(io_uring& ring);

class uring_reactor final : public reactor {
 public:
  explicit uring_reactor(const reactor_options& opts);
  ~uring_reactor() override;

  const char* name() const override { return backend_name(backend_kind::io_uring); }
  int add_listener(int listen_fd, acceptors who) override;
  int accept(int listen_fd, deadline until) override;
  int connect(int fd, const sockaddr* to, socklen_t len, deadline until) override;
  io_result read_some(int fd, void* buf, std::size_t len, deadline until) override;
  io_result receive(int fd, received& into, deadline until) override;
  void release(std::span<const chunk> chunks) override;
  io_result write_some(int fd, const void* buf, std::size_t len, deadline until) override;
  io_result write_some(int fd, std::span<const iovec> iov, deadline until) override;
  std::size_t buffers_lent() const override { return pool_.lent() + ring_lent_; }
  int wait_readable(int fd, deadline until) override;
  void forget(int fd) override;
  void poll(std::chrono::nanoseconds timeout) override;
  void interrupt() override;

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

  // ---- the core (reactor_uring.cpp) ----
  io_uring_sqe* next_sqe();
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
  int wait_for(int fd, unsigned events, deadline until);
  template <typename Prep>
  io_result send_with(Prep&& prep, int fd, std::size_t len, deadline until);
  void arm_wake();
  void reap();

  // ---- multishot recv into the provided buffer ring (reactor_uring_recv.cpp) ----
  void setup_buffer_ring(unsigned count, std::size_t size);
  void arm_recv(int fd, fd_slot& s);
  void cancel_recv(int fd, const fd_slot& s);
  io_result receive_multishot(int fd, received& into, deadline until);
  io_result hand_out(fd_slot& s, received& into);
  void give_back_queue(fd_slot& s);
  void ring_add(std::uint32_t bid, unsigned offset);
  void returned_to_ring(unsigned n);
  void on_recv(const io_uring_cqe* cqe, std::uint64_t data);
  void give_back_bid(std::uint32_t bid);
  // The older path: one recv per read, into a pooled buffer.
  io_result receive_pooled(int fd, received& into, deadline until);

  // ---- accepting (reactor_uring_accept.cpp) ----
  // A listener registered with this reactor. Its multishot accept (only where this thread is its
  // one acceptor: armed on several threads, the exclusive wait (see take_once_more()) would stay
  // first in line for good and take every client) stays armed between accept() calls; the
  // connections it brings queue in `taken` until accept() hands them out.
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

  static constexpr std::uint64_t accept_data(const listen_state& l) {
    return std::uint64_t{l.generation} << 32 | static_cast<std::uint64_t>(l.fd) << 3 | accept_tag;
  }

  static int take_once_more(int listen_fd, int otherwise);
  void forget_listener(int fd);
  listen_state* find_listener(int fd);
  void drop_if_unused(listen_state& l);
  int accept_multishot(listen_state& l, deadline until);
  int end_multishot_accept(listen_state& l, int otherwise);
  void arm_accept(listen_state& l);
  void cancel_accept(const listen_state& l);
  void on_accept(const io_uring_cqe* cqe, std::uint64_t data);
  int accept_or_wait(int listen_fd, deadline until);

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

}  // namespace echod::io::uring
