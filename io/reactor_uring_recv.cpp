// The io_uring backend's receive paths. Where the kernel has them (5.19+), a multishot recv per
// connection into one provided buffer ring per thread: completions queue their buffers on the
// connection until receive() hands them out, a connection that queues too much is paused, and an
// empty ring (ENOBUFS) waits for a buffer to come back before re-arming. Otherwise, or switched
// off, one recv per read into a pooled buffer (receive_pooled in buffer_pool.hpp).
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "io/reactor_uring_impl.hpp"

namespace echod::io::uring {

io_result uring_reactor::receive(fd_slot& s, received& into, deadline until) {
  const claim c(s, reading);
  if (c.refused) return c.refused;
  if (multishot_) {
    const io_result r = receive_multishot(s, into, until);
    if (r != -EINVAL || multishot_) return r;
    // The kernel has buffer rings but not multishot recv (5.19): the older path from now on.
  }
  return receive_pooled(s, into, until);
}

void uring_reactor::release(std::span<const chunk> chunks) {
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

// Falls back (leaves multishot_ false) where the kernel has no buffer rings (before 5.19).
void uring_reactor::setup_buffer_ring(unsigned count, std::size_t size) {
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

void uring_reactor::arm_recv(fd_slot& s) {
  if ((reinterpret_cast<std::uintptr_t>(&s) & ~slot_address_bits) != 0) {
    std::fprintf(stderr, "io_uring reactor: fd_slot at %p does not fit a recv's user_data\n",
                 static_cast<void*>(&s));
    std::abort();
  }
  // A bundle maps every buffer it might fill before the recv: with one 64-byte message per
  // completion that cost 2.6% of the worker's CPU against 1% for taking one buffer (500 x 64 B,
  // perf). So a connection gets one only if, since its last arming, a completion filled a whole
  // buffer; the byte limit brings a busy connection back here every 1/16 of the ring's bytes.
  s.s.bundled = bundles_ && s.s.bulk;
  s.s.bulk = false;
  // A slot at the address of one closed while armed must not share its user_data.
  while (!orphans_.empty() && find_orphan(recv_data(s, s.s)) != nullptr) {
    ++s.s.generation;
  }
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, s.fd, nullptr, 0, 0);
  if (s.s.bundled) sqe->ioprio |= IORING_RECVSEND_BUNDLE;
  // The kernel field for this limit is `optlen`; liburing 2.3 names the same word file_index.
  sqe->file_index = recv_limit_;
  s.s.limited = recv_limit_ != 0;
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  io_uring_sqe_set_data64(sqe, recv_data(s, s.s));
  if (s.s.ever_armed) io_counters::add(counters_->multishot_rearms, 1);
  s.s.armed = s.s.ever_armed = true;
  s.owner = this;
}

void uring_reactor::cancel_recv(std::uint64_t data) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, data, 0);
  io_uring_sqe_set_data64(sqe, ignored_completion);
}

uring_reactor::orphan* uring_reactor::find_orphan(std::uint64_t data) {
  for (orphan& o : orphans_) {
    if (o.data == data) return &o;
  }
  return nullptr;
}

// Hands out what is queued; otherwise arms the recv if it is not, and waits. A wait that ends
// (deadline, cancel) leaves the recv armed: what comes meanwhile queues for the next call.
// The receiver is the slot's reader (receive()'s claim), which on_recv() wakes.
io_result uring_reactor::receive_multishot(fd_slot& slot, received& into, deadline until) {
  scheduler* sched = scheduler::current();
  coroutine* self = scheduler::current_coroutine();
  fd_slot::state& s = slot.s;
  for (;;) {
    if (s.head >= 0) return hand_out(s, into);
    if (s.eof) return 0;
    if (const int r = std::exchange(s.pending, 0); r == -ENOBUFS) {
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
      if (s.limited) {  // no limit in this kernel: arm as before it, without bundles
        recv_limit_ = 0;
        bundles_ = false;
        continue;
      }
      multishot_ = false;  // no multishot recv in this kernel
      return r;
    } else if (r != 0) {
      return r;
    }
    if (sched->cancelled(self)) return -ECANCELED;
    if (!s.armed) arm_recv(slot);
    const wake_reason why = sched->park(until);
    if (why == wake_reason::timed_out) return -ETIMEDOUT;
    if (why == wake_reason::cancelled) return -ECANCELED;
  }
}

io_result uring_reactor::hand_out(fd_slot::state& s, received& into) {
  io_result total = 0;
  while (s.head >= 0 && !into.full()) {
    const auto bid = static_cast<std::uint32_t>(s.head);
    s.head = static_cast<std::int16_t>(next_[bid]);
    --s.queued;
    into.add(*this, {bufs_ + bid * ring_size_, length_[bid], bid});
    total += length_[bid];
  }
  if (s.head < 0) s.tail = -1;
  return total;
}

void uring_reactor::give_back_queue(fd_slot::state& s) {
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
void uring_reactor::ring_add(std::uint32_t bid, unsigned offset) {
  io_uring_buf_ring_add(br_, bufs_ + bid * ring_size_, static_cast<unsigned>(ring_size_),
                        static_cast<unsigned short>(bid),
                        io_uring_buf_ring_mask(static_cast<unsigned>(ring_count_)),
                        static_cast<int>(offset));
}

void uring_reactor::returned_to_ring(unsigned n) {
  io_uring_buf_ring_advance(br_, static_cast<int>(n));
  ring_lent_ -= n;
  if (!starved_.empty()) {
    scheduler* sched = scheduler::current();
    for (coroutine* c : starved_) sched->wake(c);
  }
}

void uring_reactor::on_recv(const io_uring_cqe* cqe, std::uint64_t data) {
  const bool more = cqe->flags & IORING_CQE_F_MORE;
  const unsigned taken = buffers_taken(cqe, data & recv_bundle);
  ring_lent_ += taken;
  fd_slot* slot = reinterpret_cast<fd_slot*>(data & slot_address_bits);
  if (!orphans_.empty()) {
    if (orphan* o = find_orphan(data)) {  // closed (or moved) while armed
      slot = o->forward;
      if (!more) std::erase_if(orphans_, [data](const orphan& x) { return x.data == data; });
      if (slot == nullptr) {
        give_back_taken(cqe, taken);
        return;
      }
    }
  }
  fd_slot::state* s = &slot->s;
  if (cqe->res > 0 && taken != 0) {
    // Every buffer but the last is full (a bundle fills them in turn).
    auto left = static_cast<std::uint32_t>(cqe->res);
    for (unsigned i = 0; i < taken; ++i) {
      const std::uint32_t bid = taken_bid(cqe, i);
      length_[bid] = std::min(left, static_cast<std::uint32_t>(ring_size_));
      left -= length_[bid];
      next_[bid] = -1;
      if (s->tail >= 0) {
        next_[static_cast<std::size_t>(s->tail)] = static_cast<std::int32_t>(bid);
      } else {
        s->head = static_cast<std::int16_t>(bid);
      }
      s->tail = static_cast<std::int16_t>(bid);
    }
    ring_head_ += taken;
    s->queued = static_cast<std::uint16_t>(s->queued + taken);
    if (static_cast<std::size_t>(cqe->res) >= ring_size_) s->bulk = true;
    s->ever_received = true;
    io_counters::add(counters_->recv_completions, 1);
    io_counters::add(counters_->recv_bytes, static_cast<std::uint64_t>(cqe->res));
    if (more && !s->paused && s->queued >= max_queued_) {
      cancel_recv(data);
      s->paused = true;
    }
  } else {
    give_back_taken(cqe, taken);
  }
  if (!more) {
    s->armed = false;
    if (cqe->res == 0) {
      s->eof = true;
    } else if (cqe->res == -ENOBUFS) {
      io_counters::add(counters_->buffer_ring_empty, 1);
      s->pending = -ENOBUFS;
    } else if (cqe->res < 0 && !(s->paused && cqe->res == -ECANCELED)) {
      s->pending = cqe->res;
    }
    s->paused = false;
  }
  if (s->reader != nullptr) scheduler::current()->wake(s->reader);
}

// The ring entries a completion took from the head. Without a bundle, the one it names. A bundle
// fills whole buffers in ring order, the last perhaps in part; one that brought no bytes took none
// (the kernel put its pick back and committed nothing).
unsigned uring_reactor::buffers_taken(const io_uring_cqe* cqe, bool bundled) const {
  if (!(cqe->flags & IORING_CQE_F_BUFFER)) return 0;
  if (!bundled) return 1;
  if (cqe->res <= 0) return 0;
  // The kernel takes entries in ring order, so a bundle's first is the one at the head seen so
  // far. A mismatch would hand one connection's bytes to another: stop rather than serve them.
  const unsigned mask = io_uring_buf_ring_mask(static_cast<unsigned>(ring_count_));
  if (br_->bufs[ring_head_ & mask].bid != cqe->flags >> IORING_CQE_BUFFER_SHIFT) {
    std::fprintf(stderr, "io_uring reactor: buffer %u completed, %u expected at the ring's head\n",
                 cqe->flags >> IORING_CQE_BUFFER_SHIFT, br_->bufs[ring_head_ & mask].bid);
    std::abort();
  }
  return static_cast<unsigned>((static_cast<std::size_t>(cqe->res) + ring_size_ - 1) / ring_size_);
}

// The completion's i-th buffer: the one it names, then the ring's next entries. An entry is
// overwritten only when a buffer is given back, at the tail; buffers given back plus those still
// in the ring never outnumber the ring, so the tail stays behind every entry taken by a completion
// not yet seen.
std::uint32_t uring_reactor::taken_bid(const io_uring_cqe* cqe, unsigned i) const {
  if (i == 0) return cqe->flags >> IORING_CQE_BUFFER_SHIFT;
  const unsigned mask = io_uring_buf_ring_mask(static_cast<unsigned>(ring_count_));
  return br_->bufs[(ring_head_ + i) & mask].bid;
}

void uring_reactor::give_back_taken(const io_uring_cqe* cqe, unsigned n) {
  for (unsigned i = 0; i < n; ++i) ring_add(taken_bid(cqe, i), i);
  ring_head_ += n;
  if (n != 0) returned_to_ring(n);
}

// MSG_DONTWAIT makes a recv on an
// empty socket fail at once rather than hold its buffer in the kernel; it then polls.
io_result uring_reactor::receive_pooled(fd_slot& s, received& into, deadline until) {
  struct adapter {
    uring_reactor& r;
    fd_slot& s;
    deadline until;
    int pending() { return s.s.pending; }
    void set_pending(int e) { s.s.pending = e; }
    bool drained() { return s.s.drained; }
    void emptied(bool) { s.s.drained = true; }
    int wait_readable() {
      const int w = r.wait_for(s.fd, POLLIN, until);
      if (w == 0) s.s.drained = false;
      return w;
    }
    io_result recv(char* buf, std::size_t len) {
      return r.perform(
          [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, s.fd, buf, len, MSG_DONTWAIT); }, until);
    }
  };
  return io::receive_pooled(*this, pool_, *counters_, into, adapter{*this, s, until});
}

}  // namespace echod::io::uring
