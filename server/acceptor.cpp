// The acceptor coroutine: one per listener per scheduler thread, all on the same inherited
// listening socket (the kernel hands each connection to one of them). It takes a capacity slot
// before accepting, so a thread never holds more than `coroutines` connections; when all slots are
// busy it parks and new clients wait in the kernel backlog, where another thread, worker or the
// next generation of workers can take them. It stops only when cancelled (retire or stop), and a
// connection the kernel handed over anyway while the cancel was on its way (io_uring completes
// accepts asynchronously), or that the reactor took from the backlog as the accept ended (one
// the kernel may have announced to this accept alone: see take_once_more() in
// reactor_uring_accept.cpp), is served like any other, never dropped.
#include <cerrno>
#include <chrono>

#include <spdlog/spdlog.h>

#include "io/reactor.hpp"
#include "io/result.hpp"
#include "runtime/scheduler.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;

// Out of descriptors or memory: the client stays in the backlog; try again a little later
// rather than spin on an error that only a closing connection will clear.
constexpr auto resource_backoff = 100ms;
constexpr auto warning_interval = std::chrono::seconds(10);

bool is_resource_error(int error) {
  return error == -EMFILE || error == -ENFILE || error == -ENOBUFS || error == -ENOMEM;
}

}  // namespace

void run_acceptor(worker_thread& t, int listen_fd) {
  io::reactor& reactor = io::reactor::current();
  // This thread's registration of the shared listener: what its reactor keeps for it.
  io::fd_slot listener(listen_fd);
  reactor.add_listener(listener, t.plan().acceptors);
  runtime::deadline next_warning{};
  while (t.reserve_slot()) {
    const int fd = reactor.accept(listener, runtime::no_deadline);
    if (fd >= 0) {
      t.spawn_connection(fd);
      continue;
    }
    t.release_slot();
    if (fd == -ECANCELED) break;
    const auto now = runtime::clock::now();
    if (now >= next_warning) {
      spdlog::warn(
          "accept: {}{}", io::error_text(fd),
          is_resource_error(fd) ? " (raise the file descriptor limit or lower coroutines)" : "");
      next_warning = now + warning_interval;
    }
    const auto pause = is_resource_error(fd) ? resource_backoff : 10ms;
    if (runtime::this_coroutine::sleep_for(pause) == runtime::wake_reason::cancelled) break;
  }
  // Connections the reactor took before accepting stopped (a multishot accept takes every client
  // waiting at once) are served too, over capacity if need be, never dropped. Cancelled, accept()
  // only hands those out; an acceptor that ends uncancelled never accepted, so has none.
  while (runtime::this_coroutine::cancelled()) {
    const int fd = reactor.accept(listener, runtime::no_deadline);
    if (fd < 0) break;
    t.reserve_slot_over_capacity();
    t.spawn_connection(fd);
  }
  // Unregister: epoll takes the shared listener out of this thread's set, or every new client
  // would still wake a thread that no longer accepts.
  listener.forget();
}

}  // namespace echod::server
