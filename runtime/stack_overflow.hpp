// Turns a coroutine stack overflow (a fault on its guard page) into a clear message naming the
// stack size before the process dies, instead of a bare "Segmentation fault".
#pragma once

#include "runtime/stack_pool.hpp"

namespace echod::runtime {

/// Installs the process-wide SIGSEGV/SIGBUS handler (once) and an alternate signal stack for the
/// calling thread (the handler cannot run on the stack that overflowed).
void install_stack_overflow_handler();

/// Records the stack the calling thread is about to run on (empty span: the thread's own stack).
void set_current_coroutine_stack(const stack_span& stack);

}  // namespace echod::runtime
