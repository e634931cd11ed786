// Tells the sanitizers when execution moves between the scheduler's stack and a coroutine's
// (Boost.Context's fcontext fibers do not), so sanitized builds check coroutine code without
// false reports. Compiles to nothing without the sanitizers.
//  - AddressSanitizer learns the stack bounds on each side of every jump: start() right before
//    it, finish() right after it, on whichever side jumps.
//  - ThreadSanitizer keeps a shadow call stack and a clock per thread. Each coroutine runs as its
//    own TSan fiber, and only the scheduler switches: enter(coroutine) before it resumes one,
//    enter(back) once the resume returns. So every frame between the two, on either stack (the
//    scheduler's call into Boost.Context, the coroutine's frames, a finished coroutine's last
//    returns), is the coroutine's, and the scheduler thread's own shadow stack stays balanced.
//    Each switch synchronises the two sides, as the jump does.
#pragma once

#include <cstddef>

#include "runtime/tsan.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace echod::runtime::fiber_switch {

/// TSan's context for one coroutine; null without TSan.
using tsan_fiber = void*;

/// A new TSan context for a coroutine; destroy() it when the coroutine has finished.
inline tsan_fiber create() {
#if defined(ECHOD_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}

inline void destroy(tsan_fiber fiber) {
#if defined(ECHOD_TSAN)
  if (fiber != nullptr) __tsan_destroy_fiber(fiber);
#else
  (void)fiber;
#endif
}

/// Makes `fiber` TSan's current context and returns the one it replaces (to enter() again after).
inline tsan_fiber enter(tsan_fiber fiber) {
#if defined(ECHOD_TSAN)
  tsan_fiber previous = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(fiber, 0);
  return previous;
#else
  return fiber;
#endif
}

/// ASan: call right before jumping to the stack [bottom, bottom + size).
inline void start(void** fake_stack_save, const void* bottom, std::size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

/// ASan: call right after the jump, on the new stack.
inline void finish(void* fake_stack_save, const void** old_bottom, std::size_t* old_size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack_save, old_bottom, old_size);
#else
  (void)fake_stack_save, (void)old_bottom, (void)old_size;
#endif
}

}  // namespace echod::runtime::fiber_switch
