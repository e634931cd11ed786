#include "runtime/timer_heap.hpp"

#include <cassert>

#include "runtime/coroutine.hpp"

namespace echod::runtime {

void timer_heap::push(coroutine* c, deadline when) {
  assert(c->heap_index_ == coroutine::npos);
  heap_.push_back({when, c});
  c->heap_index_ = heap_.size() - 1;
  sift_up(heap_.size() - 1);
}

void timer_heap::schedule(coroutine* c, deadline when) {
  const std::size_t i = c->heap_index_;
  if (i == coroutine::npos) return push(c, when);
  if (when < heap_[i].when) {
    heap_[i].when = when;
    sift_up(i);
  }
}

void timer_heap::remove(coroutine* c) {
  const std::size_t i = c->heap_index_;
  if (i == coroutine::npos) return;
  c->heap_index_ = coroutine::npos;
  const entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;  // it was the last slot
  place(i, last);
  sift_up(i);
  sift_down(last.c->heap_index_);
}

coroutine* timer_heap::pop() {
  coroutine* c = heap_.front().c;
  remove(c);
  return c;
}

void timer_heap::place(std::size_t i, entry e) {
  heap_[i] = e;
  e.c->heap_index_ = i;
}

void timer_heap::sift_up(std::size_t i) {
  const entry e = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (!(e.when < heap_[parent].when)) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void timer_heap::sift_down(std::size_t i) {
  const entry e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].when < heap_[child].when) ++child;
    if (!(heap_[child].when < e.when)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

}  // namespace echod::runtime
