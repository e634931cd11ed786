#include "server/connection.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include <spdlog/spdlog.h>

#include "runtime/scheduler.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;

// Closing (stop): our own SHUT_RD makes an empty receive queue read as end of input, but bytes
// the client sent just before may still be a window update away. A short quiet period tells
// "nothing more is coming" from "not here yet" without holding a stop up noticeably.
constexpr auto closing_quiet = 50ms;

// How long a connection the server ends first reads and drops what the client still sends, so
// that close() finds the receive queue empty and sends FIN, not RST (nginx's lingering close).
constexpr auto linger_time = 1s;

}  // namespace

connection::connection(worker_thread& owner, int fd)
    : owner_(owner), stream_(fd), idle_(owner.plan().idle_timeout) {
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

const config::server_config& connection::config() const { return owner_.plan().cfg; }

runtime::deadline connection::io_deadline() const {
  return idle_ > runtime::clock::duration::zero() ? runtime::clock::now() + idle_
                                                  : runtime::no_deadline;
}

io::io_result connection::read(char* buf, std::size_t len) {
  io::io_result n = stream_.read_some(buf, len, io_deadline());
  if (n == 0 && owner_.closing()) {
    if (runtime::this_coroutine::sleep_for(closing_quiet) == runtime::wake_reason::cancelled) {
      n = -ECANCELED;
    } else {
      n = stream_.read_some(buf, len, io_deadline());
    }
  }
  if (n > 0) {
    stats::add(owner_.counters().bytes_in, static_cast<std::uint64_t>(n));
  } else if (n == 0) {
    eof_ = true;
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

void connection::shut_read() {
  if (stream_.valid()) ::shutdown(stream_.fd(), SHUT_RD);
}

void connection::finish() {
  if (failed_ || !stream_.valid()) return;
  stream_.shutdown_write();
  if (eof_) return;
  const runtime::deadline until = runtime::clock::now() + linger_time;
  for (;;) {
    const io::io_result n = stream_.read_some(buffer_.get(), buffer_size(), until);
    if (n <= 0) return;
  }
}

void serve_connection(worker_thread& owner, int fd) {
  connection c(owner, fd);
  if (owner.closing()) c.shut_read();
  owner.plan().svc->serve(c);
  c.finish();
}

}  // namespace echod::server
