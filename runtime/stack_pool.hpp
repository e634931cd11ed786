// Coroutine stacks: mmap'd, with a PROT_NONE guard page below each so an overflow faults instead
// of corrupting a neighbour, and kept on a free list so a connection does not cost an mmap.
// Not thread-safe: each scheduler owns its pool.
#pragma once

#include <cstddef>
#include <vector>

namespace echod::runtime {

struct stack_span {
  void* base = nullptr;  ///< lowest usable address (the guard page is just below)
  std::size_t size = 0;  ///< usable bytes
  void* top() const { return static_cast<char*>(base) + size; }
};

class stack_pool {
 public:
  /// `stack_size` is rounded up to whole pages; at most `max_cached` free stacks are kept.
  explicit stack_pool(std::size_t stack_size, std::size_t max_cached = 1024);
  ~stack_pool();
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  /// A stack from the free list, or a new mapping. Throws std::bad_alloc when mmap fails.
  stack_span acquire();
  void release(stack_span stack);

  std::size_t stack_size() const { return stack_size_; }
  std::size_t cached() const { return free_.size(); }

 private:
  std::size_t stack_size_;
  std::size_t max_cached_;
  std::vector<stack_span> free_;
};

}  // namespace echod::runtime
