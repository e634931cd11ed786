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

// Recv bundles (kernel 6.10+): one completion of a multishot recv may fill several buffers, taken
// in ring order. Debian 12's liburing (2.3) predates them, so the two values are named here.
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif

namespace echod::io::uring {

using runtime::coroutine;
using runtime::scheduler;
using runtime::wake_reason;

// user_data values that are not operation records (those are pointers, 8-aligned, never 0 or 1).
// ignored_completion: cancel requests (their own result is noise); wake_completion: the eventfd
// read interrupt() completes.
inline constexpr std::uint64_t ignored_completion = 0;
inline constexpr std::uint64_t wake_completion = 1;
// A multishot recv: (generation << 48 | its fd_slot's address | recv_bundle if armed as a bundle |
// recv_tag). A slot closed while its recv is armed leaves that value in orphans_ until the recv's
// last completion, which then only gives its buffers back; the generation keeps a new slot at the
// same address apart from it. The bundle bit says how a completion counts its buffers without
// touching the slot, a cache miss per completion when it is read first.
inline constexpr std::uint64_t recv_tag = 2;
inline constexpr std::uint64_t recv_bundle = 4;
inline constexpr std::uint64_t slot_address_bits = (std::uint64_t{1} << 48) - 8;
// `at` is where the recv was armed; `armed` the state it was armed with (after a move, the new
// slot's: the old one is already cleared).
inline std::uint64_t recv_data(const fd_slot& at, const fd_slot::state& armed) {
  return std::uint64_t{armed.generation} << 48 | reinterpret_cast<std::uintptr_t>(&at) |
         (armed.bundled ? recv_bundle : 0) | recv_tag;
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
  int add_listener(fd_slot& l, acceptors who) override;
  int accept(fd_slot& l, deadline until) override;
  int connect(fd_slot& s, const sockaddr* to, socklen_t len, deadline until) override;
  io_result read_some(fd_slot& s, void* buf, std::size_t len, deadline until) override;
  io_result receive(fd_slot& s, received& into, deadline until) override;
  void release(std::span<const chunk> chunks) override;
  io_result write_some(fd_slot& s, const void* buf, std::size_t len, deadline until) override;
  io_result write_some(fd_slot& s, std::span<const iovec> iov, deadline until) override;
  std::size_t buffers_lent() const override { return pool_.lent() + ring_lent_; }
  int wait_readable(int fd, deadline until) override;
  void forget(int fd) override;
  void forget(fd_slot& s) override;
  void moved(fd_slot& from, fd_slot& to) override;
  void poll(std::chrono::nanoseconds timeout) override;
  void interrupt() override;

  unsigned setup_flags() const { return setup_flags_; }

 private:
  // The coroutine waiting on a slot in one direction, for the length of one operation, so that a
  // second waiter is refused as on epoll. The reader is also the one a multishot recv wakes.
  enum class direction { reading, writing };
  struct claim {
    claim(fd_slot& s, direction dir) : waiter(dir == direction::reading ? s.s.reader : s.s.writer) {
      if (s.fd < 0) {
        refused = -EBADF;
      } else if (waiter != nullptr) {
        refused = -EALREADY;
      } else {
        waiter = scheduler::current_coroutine();
      }
    }
    ~claim() {
      if (refused == 0) waiter = nullptr;  // the slot stays put while it is waited on
    }
    claim(const claim&) = delete;
    claim& operator=(const claim&) = delete;
    coroutine*& waiter;
    int refused = 0;  ///< -EALREADY (another waits) or -EBADF; 0 when the claim is held
  };
  static constexpr direction reading = direction::reading;
  static constexpr direction writing = direction::writing;

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
  io_result send_with(Prep&& prep, fd_slot& s, std::size_t len, deadline until);
  void arm_wake();
  void reap();

  // ---- multishot recv into the provided buffer ring (reactor_uring_recv.cpp) ----
  void setup_buffer_ring(unsigned count, std::size_t size);
  void arm_recv(fd_slot& s);
  void cancel_recv(std::uint64_t data);
  io_result receive_multishot(fd_slot& s, received& into, deadline until);
  io_result hand_out(fd_slot::state& s, received& into);
  void give_back_queue(fd_slot::state& s);
  void ring_add(std::uint32_t bid, unsigned offset);
  void returned_to_ring(unsigned n);
  void on_recv(const io_uring_cqe* cqe, std::uint64_t data);
  unsigned buffers_taken(const io_uring_cqe* cqe, bool bundled) const;
  std::uint32_t taken_bid(const io_uring_cqe* cqe, unsigned i) const;
  void give_back_taken(const io_uring_cqe* cqe, unsigned n);
  // The older path: one recv per read, into a pooled buffer.
  io_result receive_pooled(fd_slot& s, received& into, deadline until);
  // A multishot recv still in the kernel whose slot was closed (forward null: its completions
  // only give buffers back) or moved (forward: they go on to the slot it moved to).
  struct orphan {
    std::uint64_t data;
    fd_slot* forward;
  };
  orphan* find_orphan(std::uint64_t data);

  // ---- accepting (reactor_uring_accept.cpp) ----
  // A listener registered with this reactor. Its multishot accept (only where this thread is its
  // one acceptor: armed on several threads, the exclusive wait (see take_once_more()) would stay
  // first in line for good and take every client) stays armed between accept() calls; the
  // connections it brings queue in `taken` until accept() hands them out.
  struct listen_state {
    fd_slot* slot = nullptr;  ///< the registration it belongs to (moved() repoints it)
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
  void forget_listener(fd_slot& l);
  listen_state* find_listener(const fd_slot& l);
  void drop_if_unused(listen_state& l);
  int accept_multishot(listen_state& l, deadline until);
  int end_multishot_accept(listen_state& l, int otherwise);
  void arm_accept(listen_state& l);
  void cancel_accept(const listen_state& l);
  void on_accept(const io_uring_cqe* cqe, std::uint64_t data);
  int accept_or_wait(int listen_fd, deadline until);
  // The wait_readable()s in progress (forget(fd) sets fd to -1): few, so a list.
  std::vector<int*> raw_waits_;

  io_uring ring_{};
  unsigned setup_flags_ = 0;
  int wake_fd_ = -1;
  std::uint64_t wake_buffer_ = 0;
  bool wake_armed_ = false;
  std::vector<orphan> orphans_;
  std::vector<std::unique_ptr<listen_state>> listeners_;  ///< stable: acceptors point into them
  std::uint32_t listener_generations_ = 0;
  bool multishot_accept_ = false;  ///< IORING_ACCEPT_MULTISHOT (5.19+), unless switched off

  buffer_pool pool_;  ///< the older path's buffers
  // The provided buffer ring (multishot_): ring_count_ buffers of ring_size_ bytes at bufs_.
  bool multishot_ = false;
  // Where the kernel takes a limit on the bytes one multishot recv brings (IORING_RECV_MSHOT_LIM,
  // in sqe->optlen; newer than bundles), the recv ends there and is re-armed once its buffers are
  // handed out, so a connection whose service stops receiving holds about max_queued_ full
  // buffers. Otherwise it is paused after the fact (see on_recv()), when the kernel may have
  // filled many more. Bundles fill many buffers per completion (over 200 of 512 here at one
  // re-arm), so they are used only with the limit. A kernel without it refuses the arming (-EINVAL,
  // before any bytes): then both are off. A recv is armed as a bundle only for a connection that
  // filled a whole buffer since its last arming: for small messages a bundle costs more in the
  // kernel than it saves (see arm_recv()).
  bool bundles_ = false;
  std::uint32_t recv_limit_ = 0;
  io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;
  std::size_t ring_count_ = 0;
  std::size_t ring_size_ = 0;
  std::size_t ring_lent_ = 0;          ///< taken by the kernel, not yet given back
  std::uint32_t ring_head_ = 0;        ///< ring entries the kernel has taken (in completions seen)
  std::vector<std::int32_t> next_;     ///< per bid: the next bid queued for the same fd
  std::vector<std::uint32_t> length_;  ///< per bid: the bytes received into it
  std::uint32_t max_queued_ = 1;
  std::vector<coroutine*> starved_;  ///< receivers waiting for a buffer after ENOBUFS
  unsigned cq_overflow_seen_ = 0;
};

}  // namespace echod::io::uring
