#include "server/stats.hpp"

#include <sys/mman.h>

#include <new>

namespace echod::server::stats {

void totals::add(const thread_counters& c) {
  constexpr auto r = std::memory_order_relaxed;
  accepted += c.accepted.load(r);
  active += c.active.load(r);
  closed += c.closed.load(r);
  bytes_in += c.bytes_in.load(r);
  bytes_out += c.bytes_out.load(r);
  resets += c.resets.load(r);
  timeouts += c.timeouts.load(r);
  other_errors += c.other_errors.load(r);
  header_timeouts += c.header_timeouts.load(r);
  body_timeouts += c.body_timeouts.load(r);
  keepalive_timeouts += c.keepalive_timeouts.load(r);
  overload_closes += c.overload_closes.load(r);
  multishot_rearms += c.io.multishot_rearms.load(r);
  buffer_ring_empty += c.io.buffer_ring_empty.load(r);
  cq_overflows += c.io.cq_overflows.load(r);
  sq_full_waits += c.io.sq_full_waits.load(r);
  short_sends += c.io.short_sends.load(r);
  recv_completions += c.io.recv_completions.load(r);
  recv_bytes += c.io.recv_bytes.load(r);
}

totals& totals::operator+=(const totals& o) {
  accepted += o.accepted;
  active += o.active;
  closed += o.closed;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  resets += o.resets;
  timeouts += o.timeouts;
  other_errors += o.other_errors;
  header_timeouts += o.header_timeouts;
  body_timeouts += o.body_timeouts;
  keepalive_timeouts += o.keepalive_timeouts;
  overload_closes += o.overload_closes;
  multishot_rearms += o.multishot_rearms;
  buffer_ring_empty += o.buffer_ring_empty;
  cq_overflows += o.cq_overflows;
  sq_full_waits += o.sq_full_waits;
  short_sends += o.short_sends;
  recv_completions += o.recv_completions;
  recv_bytes += o.recv_bytes;
  return *this;
}

std::string totals::to_string() const {
  return "connections: accepted " + std::to_string(accepted) + ", active " +
         std::to_string(active) + ", closed " + std::to_string(closed) + "; bytes: in " +
         std::to_string(bytes_in) + ", out " + std::to_string(bytes_out) + "; errors: reset " +
         std::to_string(resets) + ", idle timeout " + std::to_string(timeouts) +
         ", header timeout " + std::to_string(header_timeouts) + ", body timeout " +
         std::to_string(body_timeouts) + ", other " + std::to_string(other_errors) +
         "; closed: keep-alive timeout " + std::to_string(keepalive_timeouts) + ", overload " +
         std::to_string(overload_closes);
}

region::region(std::size_t capacity) : capacity_(capacity), used_(capacity, false) {
  void* p = mmap(nullptr, capacity * sizeof(thread_counters), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  slots_ = static_cast<thread_counters*>(p);
  // Fresh anonymous pages are zero: that is already every counter's initial state.
}

region::~region() { munmap(slots_, capacity_ * sizeof(thread_counters)); }

thread_counters* region::allocate(std::size_t n) {
  if (n == 0 || n > capacity_) return nullptr;
  std::size_t run = 0;
  for (std::size_t i = 0; i < capacity_; ++i) {
    run = used_[i] ? 0 : run + 1;
    if (run == n) {
      const std::size_t first = i + 1 - n;
      for (std::size_t j = first; j <= i; ++j) {
        used_[j] = true;
        new (&slots_[j]) thread_counters();
      }
      return &slots_[first];
    }
  }
  return nullptr;
}

void region::release(thread_counters* first, std::size_t n) {
  if (first == nullptr) return;
  const auto index = static_cast<std::size_t>(first - slots_);
  for (std::size_t j = index; j < index + n && j < capacity_; ++j) {
    totals t;
    t.add(slots_[j]);
    t.active = 0;
    retired_ += t;
    used_[j] = false;
  }
}

totals region::sum() const {
  totals t = retired_;
  for (std::size_t j = 0; j < capacity_; ++j) {
    if (used_[j]) t.add(slots_[j]);
  }
  return t;
}

}  // namespace echod::server::stats
