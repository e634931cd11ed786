#include "io/backend.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "io/reactor_epoll.hpp"
#include "runtime/scheduler.hpp"
#if ECHOD_HAVE_IO_URING
#include "io/reactor_uring.hpp"
#endif

namespace echod::io {

reactor& reactor::current() {
  // Every scheduler that runs io/ code was built over a reactor (make_reactor).
  return static_cast<reactor&>(runtime::scheduler::current()->io());
}

void fd_slot::forget() {
  // Off a scheduler thread (a socket that outlived its scheduler) the reactor may be gone, and
  // its kernel side with it.
  if (owner != nullptr && runtime::scheduler::current() != nullptr) owner->forget(*this);
  owner = nullptr;
  s = {};
}

void fd_slot::take(fd_slot& o) {
  if (o.s.reader != nullptr || o.s.writer != nullptr) {
    std::fputs("echod: a socket was moved while a coroutine waits on it\n", stderr);
    std::abort();
  }
  fd = std::exchange(o.fd, -1);
  s = std::exchange(o.s, {});
  owner = std::exchange(o.owner, nullptr);
  if (owner != nullptr) owner->moved(o, *this);
}

const io_uring_probe& probe_io_uring() {
  static const io_uring_probe probe = [] {
#if ECHOD_HAVE_IO_URING
    return run_io_uring_probe();
#else
    io_uring_probe p;
    p.reason = "built without io_uring (meson option io_uring=disabled or no liburing)";
    return p;
#endif
  }();
  return probe;
}

config::result<backend_kind> resolve_backend(backend_kind requested) {
  switch (requested) {
    case backend_kind::epoll:
      return backend_kind::epoll;
    case backend_kind::automatic:
      return probe_io_uring().usable ? backend_kind::io_uring : backend_kind::epoll;
    case backend_kind::io_uring:
      break;
  }
  if (probe_io_uring().usable) return backend_kind::io_uring;
  return config::failure{"backend \"io_uring\" is not available here: " + probe_io_uring().reason +
                         " (use \"auto\" to fall back to epoll)"};
}

std::string describe_backend(backend_kind resolved) {
  if (resolved == backend_kind::io_uring) {
    std::string text = std::string(backend_name(resolved)) + " (";
    const auto& features = probe_io_uring().features;
    for (std::size_t i = 0; i < features.size(); ++i) text += (i ? " " : "") + features[i];
    return text + ")";
  }
  const auto& probe = probe_io_uring();
  const std::string epoll = backend_name(backend_kind::epoll);
  if (probe.usable) return epoll;
  return epoll + " (" + backend_name(backend_kind::io_uring) + " unavailable: " + probe.reason +
         ")";
}

std::unique_ptr<reactor> make_reactor(backend_kind resolved, const reactor_options& opts) {
#if ECHOD_HAVE_IO_URING
  if (resolved == backend_kind::io_uring) {
    reactor_options o = opts;
    // The test harness's switches for running suites again on the older io_uring paths.
    const auto switched_off = [](const char* name) {
      const char* e = std::getenv(name);
      return e != nullptr && std::string_view(e) == "0";
    };
    if (switched_off("ECHOD_IO_URING_MULTISHOT")) o.multishot = false;
    if (switched_off("ECHOD_IO_URING_RECV_BUNDLES")) o.recv_bundles = false;
    return make_uring_reactor(o);
  }
#endif
  return make_epoll_reactor(opts);
}

std::vector<backend_kind> available_backends() {
  std::vector<backend_kind> out{backend_kind::epoll};
  if (probe_io_uring().usable) out.push_back(backend_kind::io_uring);
  return out;
}

}  // namespace echod::io
