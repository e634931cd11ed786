// The io_uring backend's accept path: listeners registered per thread, a multishot accept where
// this thread is a listener's only acceptor (5.19+; the connections it brings queue until asked
// for), single-shot accepts otherwise, and the non-blocking accept4 an accept that ends early
// takes once more (see take_once_more()).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "io/reactor_uring_impl.hpp"

namespace echod::io::uring {

int uring_reactor::add_listener(fd_slot& slot, acceptors who) {
  if (slot.fd < 0) return -EBADF;
  listen_state* l = find_listener(slot);
  if (l == nullptr) {
    listeners_.push_back(std::make_unique<listen_state>());
    l = listeners_.back().get();
    l->slot = &slot;
    l->fd = slot.fd;
    l->generation = ++listener_generations_;
    slot.s.listener = true;
    slot.owner = this;
  }
  l->alone = who == acceptors::one;
  return 0;
}

int uring_reactor::accept(fd_slot& slot, deadline until) {
  listen_state* l = find_listener(slot);
  if (l == nullptr) return -EINVAL;
  const int listen_fd = slot.fd;
  const claim c(slot, reading);
  if (c.refused) return c.refused;
  // Cancelled: hand out what was taken ahead, take nothing new (see reactor.hpp).
  if (scheduler::current()->cancelled(scheduler::current_coroutine())) {
    return l->taken.empty() ? -ECANCELED : l->take();
  }
  if (multishot_accept_ && l->alone) {
    const int r = accept_multishot(*l, until);
    if (r != -EINVAL || multishot_accept_) return r;
    // The kernel has no multishot accept (before 5.19): single-shot from now on.
  }
  const int r = accept_or_wait(listen_fd, until);
  if (r != -ECANCELED && r != -ETIMEDOUT) return r;
  return take_once_more(listen_fd, r);
}

// Its multishot accept, if armed, is cancelled; what it took and nobody asked for is closed
// (accept() after a cancel hands all of it out first, so a server's acceptor leaves none).
void uring_reactor::forget_listener(fd_slot& slot) {
  listen_state* l = find_listener(slot);
  if (l == nullptr) return;
  l->forgotten = true;
  l->slot = nullptr;
  if (l->armed) cancel_accept(*l);
  for (const int taken : l->taken) ::close(taken);
  l->taken.clear();
  if (l->acceptor != nullptr) {
    scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
  } else {
    drop_if_unused(*l);
  }
}

// The kernel announces each new connection to one waiting accept only: IORING_OP_ACCEPT waits
// on the listener exclusively, oldest waiter first, and every thread of every worker of every
// generation waits on the same listener. An accept cancelled after its announcement came but
// before its retry ran (a worker retiring or stopping just as a client arrives: the cancel is
// submitted before this thread next processes its completions) takes the announcement along,
// and the client sits in the backlog, unseen by the other waiters, until another client comes.
// So an accept that ends early takes once more, without waiting: by then its wait is off the
// queue, so later clients wake other waiters, and one connection covers the one announcement it
// can have swallowed. The caller serves it like a connection accepted in time.
int uring_reactor::take_once_more(int listen_fd, int otherwise) {
  int fd;
  // The listener is non-blocking: this never waits.
  do {
    fd = ::accept4(listen_fd, nullptr, nullptr, accepted_socket_flags);
  } while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
  return fd >= 0 ? fd : otherwise;
}

// A thread has a listener or two: a list is the fastest search.
uring_reactor::listen_state* uring_reactor::find_listener(const fd_slot& slot) {
  if (!slot.s.listener) return nullptr;
  for (const auto& l : listeners_) {
    if (l->slot == &slot && !l->forgotten) return l.get();
  }
  return nullptr;
}

// A forgotten listener's state goes once nothing refers to it: no multishot in the kernel (its
// completions find it by generation), no acceptor parked on it.
void uring_reactor::drop_if_unused(listen_state& l) {
  if (l.forgotten && !l.armed && l.acceptor == nullptr) {
    std::erase_if(listeners_, [&l](const auto& p) { return p.get() == &l; });
  }
}

int uring_reactor::accept_multishot(listen_state& l, deadline until) {
  scheduler* sched = scheduler::current();
  coroutine* self = scheduler::current_coroutine();
  for (;;) {
    if (!l.taken.empty()) return l.take();
    if (const int r = std::exchange(l.ended, 0); r == -EINVAL && !l.ever_accepted) {
      multishot_accept_ = false;
      return r;
    } else if (r != 0 && r != -ECONNABORTED && r != -EINTR) {
      return r;  // e.g. -EMFILE: the caller backs off; the next call arms again
    }
    if (!l.armed) arm_accept(l);
    l.acceptor = self;
    const wake_reason why = sched->park(until);
    l.acceptor = nullptr;
    if (why != wake_reason::woken) {
      const int r = why == wake_reason::timed_out ? -ETIMEDOUT : -ECANCELED;
      return end_multishot_accept(l, r);
    }
    if (l.forgotten) {  // closed under us
      drop_if_unused(l);
      return -EBADF;
    }
  }
}

// The accept wait ended early (deadline, cancel): nothing may keep taking clients this thread
// will not ask for. Cancel the multishot and wait, pinned, for its last completion; then hand
// out what it took, or take once more (it may have swallowed an announcement, as above).
int uring_reactor::end_multishot_accept(listen_state& l, int otherwise) {
  if (l.armed) {
    cancel_accept(l);
    while (l.armed) {
      l.acceptor = scheduler::current_coroutine();
      scheduler::current()->park_pinned();
    }
    l.acceptor = nullptr;
  }
  if (l.forgotten) {
    drop_if_unused(l);
    return otherwise;
  }
  l.ended = 0;
  return l.taken.empty() ? take_once_more(l.fd, otherwise) : l.take();
}

void uring_reactor::arm_accept(listen_state& l) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, accepted_socket_flags);
  io_uring_sqe_set_data64(sqe, accept_data(l));
  if (l.ever_armed) io_counters::add(counters_->multishot_rearms, 1);
  l.armed = l.ever_armed = true;
  l.pausing = false;
}

void uring_reactor::cancel_accept(const listen_state& l) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, accept_data(l), 0);
  io_uring_sqe_set_data64(sqe, ignored_completion);
}

void uring_reactor::on_accept(const io_uring_cqe* cqe, std::uint64_t data) {
  const auto generation = static_cast<std::uint32_t>(data >> 32);
  const auto it = std::find_if(listeners_.begin(), listeners_.end(),
                               [generation](const auto& p) { return p->generation == generation; });
  if (it == listeners_.end()) {
    if (cqe->res >= 0) ::close(cqe->res);
    return;
  }
  listen_state* l = it->get();
  if (l->forgotten) {  // taken as its listener was forgotten: nobody will ask for it
    if (cqe->res >= 0) ::close(cqe->res);
    if (!(cqe->flags & IORING_CQE_F_MORE)) l->armed = false;
    if (l->acceptor != nullptr) {
      scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
    } else {
      drop_if_unused(*l);
    }
    return;
  }
  if (cqe->res >= 0) {
    l->taken.push_back(cqe->res);
    l->ever_accepted = true;
  }
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    l->armed = false;
    if (cqe->res < 0 && cqe->res != -ECANCELED) l->ended = cqe->res;
  } else if (l->acceptor == nullptr && !l->pausing && l->taken.size() >= max_taken) {
    cancel_accept(*l);
    l->pausing = true;
  }
  if (l->acceptor != nullptr) scheduler::current()->wake(std::exchange(l->acceptor, nullptr));
}

int uring_reactor::accept_or_wait(int listen_fd, deadline until) {
  for (;;) {
    const int r = perform(
        [&](io_uring_sqe* sqe) {
          io_uring_prep_accept(sqe, listen_fd, nullptr, nullptr, accepted_socket_flags);
        },
        until);
    if (r == -ECONNABORTED || r == -EINTR) continue;
    // The listener is non-blocking (its file is shared with epoll workers): wait, then retry.
    if (r == -EAGAIN) {
      if (const int w = wait_for(listen_fd, POLLIN, until); w < 0) return w;
      continue;
    }
    return r;
  }
}

}  // namespace echod::io::uring
