// The connection coroutine (see connection.hpp). Closed loop: keep `pipeline` messages in
// flight, read replies in order, send more as replies complete (all that fit go out in one
// write); latency from the moment a message's write began. Open loop (wrk2's way): message k of a
// connection is due at a fixed time on a schedule; it is sent then, or at once if the connection is
// still busy with earlier ones, and its latency counts from the due time, so a stalled server shows
// up in the percentiles instead of silently slowing the load down (no coordinated omission).
// Open-loop runs also record the service time (from the actual send), the uncorrected figure.
//
// Churn (--messages-per-connection N): after N messages a connection's replies are collected,
// it closes (FIN; the client side keeps the TIME_WAIT) and the slot connects again at once. The
// slot's quota, its fairness count and its open-loop schedule carry over from one connection to
// the next; connect time delays the next due message, as it would a real client's.
//
// Large messages: one coroutine writes and reads, so a message bigger than the socket buffers
// could deadlock against a server that stops reading while its replies go unread. Once more
// than drain_threshold bytes are unanswered, writes wait in short slices and the replies
// already readable are drained (and checked) between them.
#include "client/connection.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "config/units.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"

namespace echod::client {
namespace {

using runtime::clock;
using runtime::deadline;

// Loopback sockets buffer far more than this (tcp_rmem's default alone is 128 KiB), so with at
// most this much unanswered a write never waits on us reading.
constexpr std::uint64_t drain_threshold = 64 * 1024;
constexpr auto drain_slice = std::chrono::milliseconds(5);
constexpr std::size_t max_read_chunk = 64 * 1024;
constexpr std::size_t max_batch_bytes = 64 * 1024;

std::string byte_text(unsigned char c) {
  char text[24];
  if (c >= 0x20 && c < 0x7f) {
    std::snprintf(text, sizeof text, "0x%02x '%c'", c, c);
  } else {
    std::snprintf(text, sizeof text, "0x%02x", c);
  }
  return text;
}

class connection {
 public:
  connection(const load_plan& plan, thread_state& state, std::size_t index, std::size_t local)
      : plan_(plan),
        state_(state),
        index_(index),
        local_(local),
        size_(plan.data->size()),
        depth_(plan.pipeline),
        quota_(plan.quota(index)),
        per_connection_(plan.messages_per_connection == 0 ? UINT64_MAX
                                                          : plan.messages_per_connection),
        // One byte more than can be outstanding: the read that takes the last outstanding byte
        // is then short, which tells the epoll reactor to wait for the next reply's edge
        // instead of first paying a recv() that fails with EAGAIN.
        buffer_(std::clamp<std::size_t>(size_ * depth_ + 1, 64, max_read_chunk)),
        slots_(depth_),
        batch_max_(std::clamp<std::size_t>(max_batch_bytes / size_, 1, depth_)),
        batch_(batch_max_ > 1 ? batch_max_ * size_ : 0) {}

  ~connection() {
    // Also on a forced unwind: the fairness figures count every slot.
    state_.per_connection[local_] = measured_;
    if (sock_.valid()) --state_.open;
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void run() {
    if (!wait_turn()) return;
    for (;;) {
      if (!connect()) return;
      if (!(plan_.rate > 0 ? open_loop() : closed_loop())) return;
      if (sent_ < per_connection_ || measured_ >= quota_ || winding_down()) break;
      // This connection's share is done and the slot goes on: close (every reply is in, so
      // this is an orderly FIN) and connect again.
      reconnect();
    }
    // Every reply collected: a half-close lets the server finish on an orderly end of stream.
    sock_.shutdown_write();
  }

 private:
  struct slot {
    deadline intended;  ///< latency counts from here (the due time in open loop)
    deadline sent;      ///< the write began: the reply's timeout counts from here
  };

  std::uint64_t in_flight() const { return sent_ - replied_; }
  bool winding_down() const { return state_.winding_down.load(std::memory_order_relaxed); }
  /// Whether this connection goes on: quota not met, and not (time up or its share sent, with
  /// nothing left to collect).
  bool going_on() const {
    return measured_ < quota_ &&
           !((winding_down() || sent_ >= per_connection_) && in_flight() == 0);
  }
  bool may_send() const {
    return in_flight() < depth_ && measured_ + in_flight() < quota_ && sent_ < per_connection_ &&
           !winding_down();
  }
  /// How many messages may be sent now: the pipeline's free room, within the quota and this
  /// connection's share.
  std::uint64_t sendable() const {
    if (!may_send()) return 0;
    return std::min({std::uint64_t{depth_} - in_flight(), quota_ - measured_ - in_flight(),
                     per_connection_ - sent_});
  }
  deadline reply_deadline() const { return slots_[replied_ % depth_].sent + plan_.timeout; }

  std::string who() const { return "connection " + std::to_string(index_) + ": "; }

  // --connect-rate: the slot's first connect waits for its turn.
  bool wait_turn() {
    if (plan_.connect_rate <= 0) return true;
    const deadline at = plan_.clock.start +
                        std::chrono::nanoseconds(
                            std::llround(static_cast<double>(index_) / plan_.connect_rate * 1e9));
    return clock::now() >= at ||
           runtime::scheduler::current()->sleep_until(at) != runtime::wake_reason::cancelled;
  }

  bool connect() {
    if (winding_down()) return false;  // its turn came after the run's time was up
    const io::address* source =
        plan_.sources.empty() ? nullptr : &plan_.sources[index_ % plan_.sources.size()];
    const deadline began = clock::now();
    const int r = io::stream::connect(plan_.target, sock_, began + plan_.timeout, source);
    if (r == -ECANCELED) return false;
    const deadline now = clock::now();
    if (r < 0) {
      if (r == -EADDRNOTAVAIL) state_.ports_exhausted = true;
      if (r == -EMFILE || r == -ENFILE) state_.out_of_files = true;
      ++state_.connect_errors[static_cast<std::size_t>(classify_connect(r))];
      fail(error_class::connect, "connect to " + plan_.target.to_string() +
                                     (source != nullptr ? " from " + source->to_string() : "") +
                                     ": " + io::error_text(r));
      return false;
    }
    ++state_.open;
    interval_recorder& rec = state_.intervals;
    rec.advance(now, state_.open);
    ++rec.current().connects;
    if (rec.measuring())
      state_.connect_latency.record(static_cast<std::uint64_t>((now - began).count()));
    // Small pipelined writes must not wait for the previous reply's ACK (Nagle).
    sock_.set_nodelay(true);
    return true;
  }

  // Closes the finished connection and starts the next one's bookkeeping; the slot's quota,
  // schedule and counts go on.
  void reconnect() {
    sock_.close();
    --state_.open;
    base_ += sent_;
    sent_ = replied_ = written_ = consumed_ = 0;
    reply_off_ = 0;
  }

  bool closed_loop() {
    while (going_on()) {
      for (std::uint64_t n; (n = sendable()) > 0;) {
        const deadline now = clock::now();
        if (!send(static_cast<std::size_t>(std::min<std::uint64_t>(n, batch_max_)), now, now)) {
          return false;
        }
      }
      if (in_flight() == 0) continue;  // wound down between the check and now
      const deadline until = reply_deadline();
      if (!receive(until, until)) return false;
    }
    return true;
  }

  // Message k of this slot is due at due(k): slot i's first is i/rate after the start, so the
  // slots take turns evenly.
  deadline due(std::uint64_t k) const {
    const double interval_ns = 1e9 * static_cast<double>(plan_.connections) / plan_.rate;
    const double phase_ns = 1e9 * static_cast<double>(index_) / plan_.rate;
    return plan_.clock.start +
           std::chrono::nanoseconds(std::llround(phase_ns + static_cast<double>(k) * interval_ns));
  }

  bool open_loop() {
    if (!scheduled_) {
      // A slot that came up late (ramp-up, slow first connect) joins the schedule where it is
      // now instead of owing the slots it missed: the first connect is not the server's latency.
      // Later connects (churn) are: their time delays the messages that fall due meanwhile.
      const double interval_ns = 1e9 * static_cast<double>(plan_.connections) / plan_.rate;
      const auto behind = clock::now() - due(0);
      if (behind > clock::duration::zero()) {
        k_ = static_cast<std::uint64_t>(
            std::ceil(static_cast<double>(behind.count()) / interval_ns));
      }
      scheduled_ = true;
    }
    deadline next = due(k_);
    while (going_on()) {
      const bool can_send = may_send();
      if (can_send) {
        if (const deadline now = clock::now(); now >= next) {
          if (!send(1, next, now)) return false;
          next = due(++k_);
          continue;
        }
        if (in_flight() == 0) {
          if (runtime::scheduler::current()->sleep_until(next) == runtime::wake_reason::cancelled) {
            return false;
          }
          continue;
        }
      }
      if (in_flight() == 0) {
        // Time is up (nothing may be sent) and nothing is owed: done. Otherwise wait for the slot.
        if (!can_send) break;
        continue;
      }
      const deadline reply_by = reply_deadline();
      if (!receive(can_send ? std::min(next, reply_by) : reply_by, reply_by)) return false;
    }
    return true;
  }

  // Writes the next `count` messages, due at `intended`, in one write starting `now`: pipelined
  // messages cost the client one syscall per burst, as they cost the server one read.
  bool send(std::size_t count, deadline intended, deadline now) {
    const char* data = plan_.data->message(base_ + sent_);
    const std::size_t len = count * size_;
    if (count > 1) {
      for (std::size_t i = 0; i < count; ++i) {
        std::memcpy(batch_.data() + i * size_, plan_.data->message(base_ + sent_ + i), size_);
      }
      data = batch_.data();
    }
    for (std::size_t i = 0; i < count; ++i) slots_[(sent_ + i) % depth_] = {intended, now};
    interval_recorder& rec = state_.intervals;
    rec.advance(now, state_.open);
    rec.current().bytes_sent += len;
    sent_ += count;  // in flight from now on: replies may come back while the rest is written
    const deadline until = now + plan_.timeout;
    std::size_t off = 0;
    while (off < len) {
      const bool backlog = written_ - consumed_ > drain_threshold;
      if (backlog && !drain()) return false;
      const deadline slice = backlog ? std::min(until, clock::now() + drain_slice) : until;
      const io::io_result r = sock_.write_some(data + off, len - off, slice);
      if (r > 0) {
        off += static_cast<std::size_t>(r);
        written_ += static_cast<std::uint64_t>(r);
        continue;
      }
      if (r == -ETIMEDOUT && clock::now() < until) continue;  // a slice ended: drain, retry
      return io_failed(r == 0 ? -EIO : r, "write");
    }
    return true;
  }

  // One read: waits until `until`, then consumes what came. A timeout before `reply_by` is not an
  // error (open loop: a message is due).
  bool receive(deadline until, deadline reply_by) {
    const io::io_result n = sock_.read_some(buffer_.data(), buffer_.size(), until);
    if (n > 0) return consume(buffer_.data(), static_cast<std::size_t>(n), clock::now());
    if (n == -ETIMEDOUT && until < reply_by) return true;
    return io_failed(n, "read");
  }

  // Reads whatever replies are already there without waiting (see the file comment): a read whose
  // deadline has passed takes what is readable and times out on the rest.
  bool drain() {
    for (;;) {
      const io::io_result n = sock_.read_some(buffer_.data(), buffer_.size(), clock::now());
      if (n > 0) {
        if (!consume(buffer_.data(), static_cast<std::size_t>(n), clock::now())) return false;
        continue;
      }
      if (n == -ETIMEDOUT) return true;
      return io_failed(n, "read");
    }
  }

  bool consume(const char* data, std::size_t n, deadline now) {
    if (consumed_ + n > written_) {
      fail(error_class::mismatch, who() + "the server sent " +
                                      std::to_string(consumed_ + n - written_) +
                                      " bytes more than it was sent (after " +
                                      std::to_string(replied_) + " complete replies)");
      return false;
    }
    while (n > 0) {
      const char* want = plan_.data->expected(base_ + replied_) + reply_off_;
      const std::size_t take = std::min(n, size_ - reply_off_);
      if (std::memcmp(data, want, take) != 0) {
        std::size_t i = 0;
        while (data[i] == want[i]) ++i;
        fail(error_class::mismatch, who() + "reply " + std::to_string(replied_) +
                                        " differs at byte " + std::to_string(reply_off_ + i) +
                                        " of " + std::to_string(size_) + ": expected " +
                                        byte_text(static_cast<unsigned char>(want[i])) + ", got " +
                                        byte_text(static_cast<unsigned char>(data[i])));
        return false;
      }
      data += take;
      n -= take;
      reply_off_ += take;
      consumed_ += take;
      if (reply_off_ == size_) complete(now);
    }
    return true;
  }

  void complete(deadline now) {
    const slot& s = slots_[replied_ % depth_];
    ++replied_;
    reply_off_ = 0;
    interval_recorder& rec = state_.intervals;
    rec.advance(now, state_.open);
    interval& cur = rec.current();
    ++cur.messages;
    cur.bytes_received += size_;
    rec.latency().record(static_cast<std::uint64_t>((now - s.intended).count()));
    if (open_loop_) rec.service().record(static_cast<std::uint64_t>((now - s.sent).count()));
    if (!rec.measuring()) return;
    ++measured_;
    state_.last_completion = now;
  }

  // Classifies a failed read or write (`r` is 0 for end of stream, else -errno). Returns false:
  // the connection ends.
  bool io_failed(io::io_result r, const char* during) {
    if (r == -ECANCELED) return false;  // the run is over
    const std::string outstanding = std::to_string(in_flight()) +
                                    (in_flight() == 1 ? " reply" : " replies") + " outstanding, " +
                                    std::to_string(reply_off_) + " of " + std::to_string(size_) +
                                    " bytes of reply " + std::to_string(replied_) + " received";
    if (r == 0) {
      fail(error_class::short_reply,
           who() + "the server closed the connection (" + outstanding + ")");
    } else if (r == -ETIMEDOUT) {
      fail(error_class::timeout,
           who() + during + " timed out after " +
               config::format_duration(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(plan_.timeout)) +
               " (" + outstanding + ")");
    } else if (r == -ECONNRESET || r == -EPIPE) {
      fail(error_class::reset,
           who() + during + ": " + io::error_text(r) + " (" + outstanding + ")");
    } else {
      fail(error_class::other, who() + during + ": " + io::error_text(r));
    }
    return false;
  }

  void fail(error_class c, std::string detail) {
    interval_recorder& rec = state_.intervals;
    rec.advance(clock::now(), state_.open);
    ++rec.current().errors[c];
    std::string& first = state_.first_error[static_cast<std::size_t>(c)];
    if (first.empty()) first = std::move(detail);
  }

  const load_plan& plan_;
  thread_state& state_;
  const std::size_t index_;
  const std::size_t local_;
  const std::size_t size_;
  const unsigned depth_;
  const std::uint64_t quota_;
  const std::uint64_t per_connection_;  ///< messages per connection before it is replaced
  const bool open_loop_ = plan_.rate > 0;
  io::stream sock_;
  std::vector<char> buffer_;
  std::vector<slot> slots_;      ///< message seq's times live in slots_[seq % depth_]
  const std::size_t batch_max_;  ///< messages one write may carry
  std::vector<char> batch_;      ///< where a burst of messages is laid out for that write
  std::uint64_t sent_ = 0;       ///< messages handed to write (in flight from then on)
  std::uint64_t replied_ = 0;    ///< replies verified in full
  std::size_t reply_off_ = 0;    ///< bytes of reply replied_ verified so far
  std::uint64_t written_ = 0;    ///< bytes written, all messages
  std::uint64_t consumed_ = 0;   ///< reply bytes verified
  std::uint64_t measured_ = 0;   ///< replies verified within the measured window, this slot
  std::uint64_t base_ = 0;       ///< messages of the slot's earlier connections (payload index)
  std::uint64_t k_ = 0;          ///< open loop: the slot's next message on the schedule
  bool scheduled_ = false;       ///< open loop: k_ has been placed on the schedule
};

}  // namespace

void run_connection(const load_plan& plan, thread_state& state, std::size_t index,
                    std::size_t local_index) {
  connection c(plan, state, index, local_index);
  c.run();
}

}  // namespace echod::client
