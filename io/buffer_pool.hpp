// Per-thread receive buffers of one size, lent for one received chunk at a time (epoll, and
// io_uring without a provided buffer ring): taken when bytes are there to read, given back when
// their reply is sent, so an idle connection holds none. A free list keeps the thread off malloc
// after warm-up; buffers beyond `max_cached` free are freed. Not thread-safe: one per reactor.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "io/reactor.hpp"

namespace echod::io {

class buffer_pool {
 public:
  buffer_pool(std::size_t buffer_size, std::size_t max_cached)
      : size_(buffer_size), max_cached_(max_cached) {
    free_.reserve(max_cached);
  }
  ~buffer_pool() {
    for (char* b : free_) delete[] b;
  }
  buffer_pool(const buffer_pool&) = delete;
  buffer_pool& operator=(const buffer_pool&) = delete;

  /// A buffer of size() bytes, uninitialised. Throws std::bad_alloc.
  char* acquire() {
    ++lent_;
    if (free_.empty()) return new char[size_];
    char* b = free_.back();
    free_.pop_back();
    return b;
  }

  void give_back(char* b) {
    --lent_;
    if (free_.size() < max_cached_) {
      free_.push_back(b);
    } else {
      delete[] b;
    }
  }

  std::size_t size() const { return size_; }
  std::size_t lent() const { return lent_; }

 private:
  std::size_t size_;
  std::size_t max_cached_;
  std::size_t lent_ = 0;
  std::vector<char*> free_;
};

/// The receive loop over a pool, shared by epoll and io_uring's older path. Waits holding no
/// buffer once the socket is known to be empty; takes one only to recv into it. A recv that fills
/// its buffer may have left more behind: it takes another (up to received::capacity), so a large
/// message leaves in one send. An error after some bytes is kept for the next call, so nothing
/// received is lost. `fd` adapts the backend:
///   int pending(); void set_pending(int)   -- -errno kept from the last call, 0: none
///   bool drained(); void emptied(bool short_read)  -- the socket is (believed) empty
///   int wait_readable()                    -- 0 (and not drained) or -errno
///   io_result recv(char* buf, std::size_t len)  -- bytes, 0 at EOF, or -errno
template <typename Fd>
io_result receive_pooled(reactor& owner, buffer_pool& pool, io_counters& counters, received& into,
                         Fd&& fd) {
  io_result total = 0;
  while (!into.full()) {
    if (const int e = fd.pending(); e != 0) {
      if (total > 0) break;
      fd.set_pending(0);
      return e;
    }
    if (fd.drained()) {
      if (total > 0) break;
      if (const int w = fd.wait_readable(); w < 0) return w;
    }
    char* buf = pool.acquire();
    const io_result r = fd.recv(buf, pool.size());
    if (r > 0) {
      into.add(owner, {buf, static_cast<std::uint32_t>(r), 0});
      total += r;
      io_counters::add(counters.recv_completions, 1);
      io_counters::add(counters.recv_bytes, static_cast<std::uint64_t>(r));
      if (static_cast<std::size_t>(r) == pool.size()) continue;
      fd.emptied(true);
      break;
    }
    pool.give_back(buf);
    if (r == 0) break;  // end of stream: 0 now, or on the next call after the bytes before it
    if (r == -EINTR) continue;
    if (r == -EAGAIN) {
      fd.emptied(false);
      continue;
    }
    if (total == 0) return r;
    // A socket error after bytes: reported next time. A deadline or cancel is not sticky.
    if (r != -ETIMEDOUT && r != -ECANCELED) fd.set_pending(static_cast<int>(r));
    break;
  }
  return total;
}

}  // namespace echod::io
