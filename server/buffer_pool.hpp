// Per-thread connection buffers: each connection takes one buffer of the configured size for its
// whole life and gives it back at the end; a small free list keeps a thread that opens and closes
// connections quickly from going to malloc each time. Never touched per message. Not thread-safe:
// each scheduler thread owns one.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace echod::server {

class buffer_pool {
 public:
  buffer_pool(std::size_t buffer_size, std::size_t max_cached)
      : size_(buffer_size), max_cached_(max_cached) {}

  /// A buffer of buffer_size() bytes, uninitialised. Throws std::bad_alloc.
  std::unique_ptr<char[]> acquire() {
    if (free_.empty()) return std::make_unique_for_overwrite<char[]>(size_);
    std::unique_ptr<char[]> b = std::move(free_.back());
    free_.pop_back();
    return b;
  }

  void release(std::unique_ptr<char[]> b) {
    if (b != nullptr && free_.size() < max_cached_) free_.push_back(std::move(b));
  }

  std::size_t buffer_size() const { return size_; }
  std::size_t cached() const { return free_.size(); }

 private:
  std::size_t size_;
  std::size_t max_cached_;
  std::vector<std::unique_ptr<char[]>> free_;
};

}  // namespace echod::server
