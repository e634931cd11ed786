// The epoll backend: edge-triggered readiness. Every operation first tries the non-blocking
// syscall and parks only on EAGAIN; the socket is registered once, for both directions, the first
// time it would block, so a connection costs one epoll_ctl for its whole life.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "io/backend.hpp"
#include "io/reactor.hpp"

namespace echod::io {

std::unique_ptr<reactor> make_epoll_reactor(const reactor_options& opts = {});

/// In a child forked while `epoll` (made by make_epoll_reactor) runs a loop in the parent: closes
/// its epoll and wake descriptors, so the child, which never runs that loop, keeps nothing of it
/// (the parent's registrations are untouched). Nothing may use `epoll` in the child afterwards.
void close_after_fork(reactor& epoll);

}  // namespace echod::io
