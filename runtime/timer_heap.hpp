// A min-heap of coroutines ordered by deadline, with O(log n) removal: each coroutine has at most
// one entry and remembers its slot. The scheduler keeps entries lazily (see scheduler.cpp): an
// entry may be earlier than the coroutine's current deadline, or outlive its wait.
#pragma once

#include <cstddef>
#include <vector>

#include "runtime/clock.hpp"

namespace echod::runtime {

class coroutine;

class timer_heap {
 public:
  void push(coroutine* c, deadline when);
  /// Makes `c` come due no later than `when`: pushes it, or moves its entry earlier. An entry
  /// that is already due sooner stays as it is.
  void schedule(coroutine* c, deadline when);
  void remove(coroutine* c);  ///< no-op if `c` has no deadline queued
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  deadline earliest() const { return heap_.front().when; }
  coroutine* pop();  ///< removes and returns the coroutine with the earliest deadline

 private:
  struct entry {
    deadline when;
    coroutine* c;
  };
  void place(std::size_t i, entry e);
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  std::vector<entry> heap_;
};

}  // namespace echod::runtime
