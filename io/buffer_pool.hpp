// Per-thread receive buffers of one size, lent for one received chunk at a time (epoll, and
// io_uring without a provided buffer ring): taken when bytes are there to read, given back when
// their reply is sent, so an idle connection holds none. A free list keeps the thread off malloc
// after warm-up; buffers beyond `max_cached` free are freed. Not thread-safe: one per reactor.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

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

}  // namespace echod::io
