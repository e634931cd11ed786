// Tells the sanitizers when execution moves between the scheduler's stack and a coroutine's
// (Boost.Context's fcontext fibers do not), so sanitized builds check coroutine code without
// false reports:
//  - AddressSanitizer learns the stack bounds on each side of a switch (start/finish);
//  - ThreadSanitizer keeps a shadow call stack and a clock per thread: each coroutine runs as its
//    own TSan fiber, entered right before the jump, or TSan would see one thread's frames unwind
//    on another stack.
// Compiles to nothing without the sanitizers.
#pragma once

#include <cstddef>

// gcc says __SANITIZE_THREAD__, clang (before 17) only __has_feature.
#if defined(__SANITIZE_THREAD__)
#define ECHOD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ECHOD_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(ECHOD_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace echod::runtime::fiber_switch {

/// TSan's context for one stack of execution; null without TSan.
using tsan_fiber = void*;

/// The calling thread's current TSan context (the scheduler's, when called on its stack).
inline tsan_fiber current() {
#if defined(ECHOD_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

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

/// Makes `fiber` TSan's current context. The switch synchronises the two sides: a coroutine's
/// code happens after what its scheduler did before, and the other way round.
inline void enter(tsan_fiber fiber) {
#if defined(ECHOD_TSAN)
  __tsan_switch_to_fiber(fiber, 0);
#else
  (void)fiber;
#endif
}

/// Call right before jumping to the stack [bottom, bottom + size) that runs as `fiber`.
inline void start(void** fake_stack_save, const void* bottom, std::size_t size, tsan_fiber fiber) {
  enter(fiber);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

/// Call right after the jump, on the new stack.
inline void finish(void* fake_stack_save, const void** old_bottom, std::size_t* old_size) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(fake_stack_save, old_bottom, old_size);
#else
  (void)fake_stack_save, (void)old_bottom, (void)old_size;
#endif
}

}  // namespace echod::runtime::fiber_switch
