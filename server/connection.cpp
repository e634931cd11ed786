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

const char* kind_name(wait_kind kind) {
  switch (kind) {
    case wait_kind::idle:
      return "idle";
    case wait_kind::header:
      return "header";
    case wait_kind::body:
      return "body";
    case wait_kind::keepalive:
      return "keep-alive";
  }
  return "?";
}

}  // namespace

connection::connection(worker_thread& owner, const connection_options& opts, int fd)
    : owner_(owner),
      stream_(fd),
      self_(runtime::scheduler::current_coroutine()),
      idle_(opts.idle_timeout),
      wait_(idle_),
      registered_(owner.registry(), *this) {
  if (opts.tcp_nodelay) stream_.set_nodelay(true);
}

connection::~connection() {
  stream_.close();  // registered_ then leaves the registry, which frees the slot
}

bool connection::draining() const { return owner_.draining(); }

void connection::set_wait_limit(runtime::clock::duration wait, wait_kind kind) {
  wait_ = wait;
  wait_kind_ = kind;
}

void connection::set_deadline(runtime::deadline until, wait_kind kind) {
  deadline_ = until;
  deadline_kind_ = kind;
}

runtime::deadline connection::io_deadline() const {
  return idle_ > runtime::clock::duration::zero() ? runtime::clock::now() + idle_
                                                  : runtime::no_deadline;
}

runtime::deadline connection::read_deadline(runtime::deadline now) const {
  runtime::deadline until =
      wait_ > runtime::clock::duration::zero() ? now + wait_ : runtime::no_deadline;
  until = std::min(until, deadline_);
  if (owner_.closing()) until = std::min(until, now + closing_quiet);
  return until;
}

wait_kind connection::expired_kind(runtime::deadline now) const {
  return deadline_ <= now ? deadline_kind_ : wait_kind_;
}

io::io_result connection::receive(io::received& in) {
  // Ending (shutdown_timeout passed): everything read so far has been answered by now, since the
  // service only reads again after answering; stop here and let finish() end with FIN.
  if (owner_.ending()) return 0;
  io::io_result n = 0;
  bool quiet = false;  // the input ends because the server is closing, not because the client did
  reading_ = true;
  for (;;) {
    const bool was_closing = owner_.closing();
    // The same clock read gives the deadline and the start of the wait that overload measures.
    read_started_ = runtime::clock::now();
    n = stream_.receive(in, read_deadline(read_started_));
    if (n != -ETIMEDOUT || shed_) break;
    if (owner_.ending() || (was_closing && owner_.closing())) {
      n = 0;
      quiet = true;
      break;
    }
    if (!owner_.closing()) break;
    // begin_closing() cut this read short: wait a quiet period for bytes already on their way.
  }
  reading_ = false;
  if (n > 0) {
    if (shed_) {  // input arrived before the eviction took effect: the client is not idle
      shed_ = false;
      owner_.unshed();
    }
    stats::add(owner_.counters().bytes_in, static_cast<std::uint64_t>(n));
  } else if (n == 0) {
    eof_ = !quiet;
  } else {
    fail(n, expired_kind(runtime::clock::now()));
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

bool connection::write(const io::received& data) {
  const io::io_result r = stream_.write_all(data, io_deadline());
  if (r < 0) {
    fail(r);
    return false;
  }
  stats::add(owner_.counters().bytes_out, static_cast<std::uint64_t>(r));
  return true;
}

void connection::fail(io::io_result error, wait_kind kind) {
  failed_ = true;
  auto& counters = owner_.counters();
  switch (-error) {
    case ECONNRESET:
    case EPIPE:
      stats::add(counters.resets, 1);
      break;
    case ETIMEDOUT:
      if (shed_) {
        stats::add(counters.overload_closes, 1);
        spdlog::debug("connection fd {}: idle while the thread is nearly full, closing",
                      stream_.fd());
        break;
      }
      switch (kind) {
        case wait_kind::idle:
          stats::add(counters.timeouts, 1);
          break;
        case wait_kind::header:
          stats::add(counters.header_timeouts, 1);
          break;
        case wait_kind::body:
          stats::add(counters.body_timeouts, 1);
          break;
        case wait_kind::keepalive:
          stats::add(counters.keepalive_timeouts, 1);
          break;
      }
      spdlog::debug("connection fd {}: {} timeout, closing", stream_.fd(), kind_name(kind));
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

void connection::shed() {
  shed_ = true;
  owner_.scheduler()->expire(self_);
}

void connection::finish() {
  if (failed_ || !stream_.valid()) return;
  stream_.shutdown_write();
  if (eof_) return;  // the client has said all it will: close() sends FIN
  const runtime::deadline until = runtime::clock::now() + linger_time;
  // Closing, it ends as soon as nothing can be lost. Otherwise (an HTTP error, say) it gives a
  // client still sending the whole linger time to finish, so that no reset hits it mid-upload.
  // Ending, the client was busy: it may still send what it wrote before it read our FIN, so wait
  // for its own end (the worker cuts the wait at ending_grace; an empty queue then still FINs).
  const bool stopping = owner_.closing() && !owner_.ending();
  io::received dropped;  // buffers only while bytes are there to drop
  for (;;) {
    const runtime::deadline check =
        stopping ? std::min(until, runtime::clock::now() + linger_check) : until;
    const io::io_result n = stream_.receive(dropped, check);
    dropped.clear();
    if (n == -ETIMEDOUT && check < until && stream_.unacknowledged_bytes() > 0) continue;
    if (n <= 0) return;
  }
}

void connection::serve(worker_thread& owner, int fd) {
  const worker_plan& plan = owner.plan();
  connection c(owner, plan.connection, fd);
  plan.svc->serve(c, plan.svc_options);
  c.finish();
}

}  // namespace echod::server
