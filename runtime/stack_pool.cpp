#include "runtime/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace echod::runtime {
namespace {

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

// Frames that ran on a stack leave ASan poison in its shadow; cleared before the memory is reused
// by another coroutine or, once unmapped, by any other mapping (an io_uring ring, say).
void forget_old_frames(const stack_span& s) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(s.base, s.size);
#else
  (void)s;
#endif
}

void unmap(const stack_span& s) {
  forget_old_frames(s);
  munmap(static_cast<char*>(s.base) - page_size(), s.size + page_size());
}

std::size_t round_to_pages(std::size_t n) {
  const std::size_t page = page_size();
  return (n + page - 1) / page * page;
}

}  // namespace

stack_pool::stack_pool(std::size_t stack_size, std::size_t max_cached)
    : stack_size_(round_to_pages(stack_size < 4096 ? 4096 : stack_size)), max_cached_(max_cached) {}

stack_pool::~stack_pool() {
  for (const stack_span& s : free_) unmap(s);
}

stack_span stack_pool::acquire() {
  if (!free_.empty()) {
    const stack_span s = free_.back();
    free_.pop_back();
    forget_old_frames(s);
    return s;
  }
  const std::size_t guard = page_size();
  // MAP_NORESERVE: a stack costs only the pages a coroutine touches, so thousands of idle
  // connections with 64 KiB stacks stay cheap.
  void* p = mmap(nullptr, stack_size_ + guard, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  // Stacks grow down: the lowest page is the guard an overflow runs into.
  if (mprotect(p, guard, PROT_NONE) != 0) {
    munmap(p, stack_size_ + guard);
    throw std::bad_alloc();
  }
  return {static_cast<char*>(p) + guard, stack_size_};
}

void stack_pool::release(stack_span stack) {
  if (free_.size() < max_cached_) {
    free_.push_back(stack);
    return;
  }
  unmap(stack);
}

}  // namespace echod::runtime
