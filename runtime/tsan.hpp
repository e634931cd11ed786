// ThreadSanitizer detection and the one annotation echod needs outside coroutine switches
// (runtime/fiber_switch.hpp): an order between threads that the kernel makes and TSan cannot see.
// Compiles to nothing without TSan.
#pragma once

// gcc says __SANITIZE_THREAD__, clang (before 17) only __has_feature.
#if defined(__SANITIZE_THREAD__)
#define ECHOD_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ECHOD_TSAN 1
#endif
#endif

#if defined(ECHOD_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace echod::runtime::tsan {

/// Everything this thread did so far happens before whatever a later happens_after(token) follows.
inline void happens_before(void* token) {
#if defined(ECHOD_TSAN)
  __tsan_release(token);
#else
  (void)token;
#endif
}

/// Pairs with every earlier happens_before(token), on any thread.
inline void happens_after(void* token) {
#if defined(ECHOD_TSAN)
  __tsan_acquire(token);
#else
  (void)token;
#endif
}

}  // namespace echod::runtime::tsan
