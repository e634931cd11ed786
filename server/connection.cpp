#include "server/connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <spdlog/spdlog.h>

#include "runtime/scheduler.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;

// Closing (stop): a read waits at most this long. Bytes the client sent before the stop may still
// be on their way (a window update away); a quiet period this long means nothing more is coming,
// and the connection ends its input there instead of waiting for the client.
constexpr auto closing_quiet = 100ms;

// How long a connection the server ends first reads and drops what the client still sends, so
// that close() finds the receive queue empty and sends FIN, not a reset that would throw away
// replies still queued (nginx's lingering close). During a stop it ends early once the client
// has acknowledged every reply, checked this often: then a reset can no longer lose anything.
constexpr auto linger_time = 1s;
constexpr auto linger_check = 10ms;

}  // namespace

connection::connection(worker_thread& owner, int fd)
    : owner_(owner),
      stream_(fd),
      self_(runtime::scheduler::current_coroutine()),
      idle_(owner.plan().idle_timeout) {
  owner_.attach(*this);
  try {
    buffer_ = owner_.buffers().acquire();
  } catch (...) {
    owner_.detach(*this);  // the destructor will not run; stream_ still closes the socket
    throw;
  }
  if (owner_.plan().cfg.tcp_nodelay) stream_.set_nodelay(true);
}

connection::~connection() {
  stream_.close();
  owner_.buffers().release(std::move(buffer_));
  owner_.detach(*this);
}

std::size_t connection::buffer_size() const { return owner_.buffers().buffer_size(); }

bool connection::draining() const { return owner_.draining(); }

const config::server_config& connection::config() const { return owner_.plan().cfg; }

runtime::deadline connection::io_deadline() const {
  return idle_ > runtime::clock::duration::zero() ? runtime::clock::now() + idle_
                                                  : runtime::no_deadline;
}

runtime::deadline connection::read_deadline() const {
  const runtime::deadline idle = io_deadline();
  if (!owner_.closing()) return idle;
  return std::min(idle, runtime::clock::now() + closing_quiet);
}

io::io_result connection::read(char* buf, std::size_t len) {
  io::io_result n = 0;
  bool quiet = false;  // the input ends because the server is closing, not because the client did
  reading_ = true;
  for (;;) {
    const bool was_closing = owner_.closing();
    n = stream_.read_some(buf, len, read_deadline());
    if (n != -ETIMEDOUT || !owner_.closing()) break;
    if (was_closing) {
      n = 0;
      quiet = true;
      break;
    }
    // begin_closing() cut this read short: wait a quiet period for bytes already on their way.
  }
  reading_ = false;
  if (n > 0) {
    stats::add(owner_.counters().bytes_in, static_cast<std::uint64_t>(n));
  } else if (n == 0) {
    eof_ = !quiet;
  } else {
    fail(n);
  }
  return n;
}

bool connection::write(const char* data, std::size_t len) {
  const io::io_result r = stream_.write_all(data, len, io_deadline());
  if (r < 0) {
    fail(r);
    return false;
  }
  stats::add(owner_.counters().bytes_out, len);
  return true;
}

void connection::fail(io::io_result error) {
  failed_ = true;
  auto& counters = owner_.counters();
  switch (-error) {
    case ECONNRESET:
    case EPIPE:
      stats::add(counters.resets, 1);
      break;
    case ETIMEDOUT:
      stats::add(counters.timeouts, 1);
      spdlog::debug("connection fd {}: idle for {} s, closing", stream_.fd(),
                    owner_.plan().cfg.idle_timeout);
      break;
    case ECANCELED:
      break;  // our own doing: a forced stop
    default:
      stats::add(counters.other_errors, 1);
      spdlog::debug("connection fd {}: {}", stream_.fd(), io::error_text(error));
      break;
  }
}

void connection::interrupt_read() {
  if (reading_) owner_.scheduler()->expire(self_);
}

void connection::finish() {
  if (failed_ || !stream_.valid()) return;
  stream_.shutdown_write();
  if (eof_) return;  // the client has said all it will: close() sends FIN
  const runtime::deadline until = runtime::clock::now() + linger_time;
  // Stopping, it ends as soon as nothing can be lost. Otherwise (an HTTP error, say) it gives a
  // client still sending the whole linger time to finish, so that no reset hits it mid-upload.
  const bool stopping = owner_.closing();
  for (;;) {
    const runtime::deadline check =
        stopping ? std::min(until, runtime::clock::now() + linger_check) : until;
    const io::io_result n = stream_.read_some(buffer_.get(), buffer_size(), check);
    if (n == -ETIMEDOUT && check < until && stream_.unacknowledged_bytes() > 0) continue;
    if (n <= 0) return;
  }
}

void serve_connection(worker_thread& owner, int fd) {
  connection c(owner, fd);
  owner.plan().svc->serve(c);
  c.finish();
}

}  // namespace echod::server
