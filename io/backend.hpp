// Choosing a reactor backend: "auto" takes io_uring when the probe passes (a kernel without it, or
// a container whose seccomp profile blocks it, gets epoll); "io_uring" fails clearly when the
// probe does not pass; "epoll" always works on Linux.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/choices.hpp"
#include "config/result.hpp"
#include "io/reactor.hpp"

namespace echod::io {

/// The choice and its names are config's (config/choices.hpp): one list for both config files.
using config::backend_kind;

/// "auto" | "io_uring" | "epoll", as a C string for the many places that concatenate it.
inline const char* backend_name(backend_kind kind) { return config::name_of(kind).data(); }

struct reactor_options {
  unsigned ring_entries = 1024;  ///< io_uring submission queue size
  /// Pooled receive buffers (epoll; io_uring without a buffer ring): size, and how many to keep.
  std::size_t buffer_size = 64 * 1024;
  std::size_t cached_buffers = 64;
  /// io_uring: multishot recv into a provided buffer ring of `ring_buffers` buffers (a power of
  /// two) of `ring_buffer_size` bytes each. False (or the environment variable
  /// ECHOD_IO_URING_MULTISHOT=0, which tests use to run the older path) or a kernel without buffer
  /// rings: one recv per read into the pool.
  bool multishot = true;
  /// With multishot: recv bundles where the kernel has them (6.10+), so one completion may fill
  /// several buffers. False (or ECHOD_IO_URING_RECV_BUNDLES=0): one buffer per completion.
  bool recv_bundles = true;
  unsigned ring_buffers = 512;
  std::size_t ring_buffer_size = 16 * 1024;
  io_counters* counters = nullptr;  ///< where the reactor counts (null: its own set)
};

/// What probing io_uring found: whether it can serve, why not, and what it offers.
struct io_uring_probe {
  bool usable = false;
  std::string reason;  ///< why not usable, e.g. "io_uring_setup: Operation not permitted"
  std::vector<std::string> features;  ///< e.g. "FAST_POLL", "DEFER_TASKRUN"
};

/// Creates a ring, checks features and opcodes, and tears it down. Cached after the first call.
const io_uring_probe& probe_io_uring();

/// The backend `requested` resolves to on this machine, or why not (io_uring demanded but
/// unusable).
config::result<backend_kind> resolve_backend(backend_kind requested);

/// A one-line description: "io_uring (FAST_POLL, NODROP, ...)" or "epoll (io_uring: <reason>)".
std::string describe_backend(backend_kind resolved);

/// A reactor of a resolved backend (not `automatic`). Throws std::system_error on setup failure.
std::unique_ptr<reactor> make_reactor(backend_kind resolved, const reactor_options& opts = {});

/// The backends usable here, for tests that run over each: epoll, and io_uring if it probes.
std::vector<backend_kind> available_backends();

}  // namespace echod::io
