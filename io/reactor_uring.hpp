// The io_uring backend: completion-based. Each operation is one SQE whose user_data points at a
// small record on the waiting coroutine's stack; SQEs are submitted in one batch per scheduler
// turn (in poll()), and completions are reaped in batches. A timeout or cancel asks the kernel to
// drop the operation and waits, pinned, until it has: the buffer and the record live on the stack.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/backend.hpp"
#include "io/reactor.hpp"

namespace echod::io {

/// Throws std::system_error when the ring cannot be set up.
std::unique_ptr<reactor> make_uring_reactor(const reactor_options& opts);

/// Sets up a small ring and reports features and missing opcodes (see backend.hpp).
io_uring_probe run_io_uring_probe();

}  // namespace echod::io
