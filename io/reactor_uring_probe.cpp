// Probing io_uring at start: a small ring is set up with the flags the reactor would use, and
// the features, the provided buffer ring, multishot accept and the opcodes the reactor needs are
// checked, so the start line says which path serves and a kernel without them falls back cleanly.
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "io/reactor_uring.hpp"
#include "io/reactor_uring_impl.hpp"

namespace echod::io {

using uring::buffer_group;
using uring::exit_ring;
using uring::init_ring;

namespace {

// Multishot accept (5.19) has no opcode of its own: arm one on a listening Unix socket (no port,
// no network) and cancel it. A kernel without it fails the request with -EINVAL at once.
bool probe_multishot_accept(io_uring& ring) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sa_family_t autobind = AF_UNIX;  // an abstract name the kernel picks
  bool supported = false;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&autobind), sizeof autobind) == 0 &&
      ::listen(fd, 1) == 0) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, accepted_socket_flags);
    io_uring_sqe_set_data64(sqe, 1);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel64(sqe, 1, 0);
    io_uring_sqe_set_data64(sqe, 2);
    io_uring_submit(&ring);
    for (int seen = 0; seen < 2; ++seen) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring, &cqe) != 0) break;
      if (cqe->user_data == 1) supported = cqe->res == -ECANCELED;
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  ::close(fd);
  return supported;
}

}  // namespace

// The probe runs on the caller's thread, which must take one consequence: once the probe ring is
// closed, the kernel's teardown of it interrupts the thread's next blocking call that has a
// timeout (recv with SO_RCVTIMEO, ppoll) with EINTR, so such calls retry on EINTR. Running the
// probe on a thread of its own would spare that, but a thread in echod's master makes it
// multi-threaded at every later fork, which ThreadSanitizer refuses in the forked workers.
io_uring_probe run_io_uring_probe() {
  io_uring_probe result;
  io_uring ring{};
  unsigned flags = 0;
  if (const int r = init_ring(ring, 8, flags); r < 0) {
    result.reason = std::string("io_uring_setup: ") + std::strerror(-r);
    return result;
  }
  if (flags & IORING_SETUP_DEFER_TASKRUN) result.features.push_back("DEFER_TASKRUN");
  if (flags & IORING_SETUP_SINGLE_ISSUER) result.features.push_back("SINGLE_ISSUER");
  if (flags & IORING_SETUP_COOP_TASKRUN) result.features.push_back("COOP_TASKRUN");
  if (io_uring_register_ring_fd(&ring) == 1) result.features.push_back("REGISTERED_RING_FD");
  // A provided buffer ring (5.19) carries the multishot recv; without one, receives take the older
  // path by themselves. Registered on the probe ring, so the start line says which path serves.
  void* probe_ring =
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe_ring != MAP_FAILED) {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(probe_ring);
    reg.ring_entries = 1;
    reg.bgid = buffer_group;
    if (io_uring_register_buf_ring(&ring, &reg, 0) == 0) {
      result.features.push_back("BUF_RING");
      io_uring_unregister_buf_ring(&ring, buffer_group);
    }
    munmap(probe_ring, 4096);
  }
  if (probe_multishot_accept(ring)) result.features.push_back("ACCEPT_MULTISHOT");
  const unsigned feats = ring.features;
  const std::pair<unsigned, const char*> named[] = {
      {IORING_FEAT_FAST_POLL, "FAST_POLL"},
      {IORING_FEAT_NODROP, "NODROP"},
      {IORING_FEAT_EXT_ARG, "EXT_ARG"},
      {IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"},
      {IORING_FEAT_RECVSEND_BUNDLE, "RECVSEND_BUNDLE"},
  };
  for (const auto& [bit, name] : named) {
    if (feats & bit) result.features.push_back(name);
  }
  // EXT_ARG carries the wait timeout; without it the loop could not sleep with a deadline.
  std::string missing;
  if (!(feats & IORING_FEAT_EXT_ARG)) missing += " EXT_ARG";
  if (::io_uring_probe* p = io_uring_get_probe_ring(&ring)) {
    const std::pair<int, const char*> ops[] = {
        {IORING_OP_ACCEPT, "ACCEPT"},     {IORING_OP_CONNECT, "CONNECT"},
        {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},
        {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
        {IORING_OP_READ, "READ"},
    };
    for (const auto& [op, name] : ops) {
      if (!io_uring_opcode_supported(p, op)) missing += std::string(" ") + name;
    }
    io_uring_free_probe(p);
  } else {
    missing += " PROBE";
  }
  exit_ring(ring);
  if (!missing.empty()) {
    result.reason = "io_uring lacks" + missing;
    return result;
  }
  result.usable = true;
  return result;
}

}  // namespace echod::io
