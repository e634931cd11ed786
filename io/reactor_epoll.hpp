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

}  // namespace echod::io
