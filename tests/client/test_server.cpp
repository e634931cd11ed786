// In-process test services (see test_server.hpp).
#include "test_server.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "io/socket.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/scheduler_pool.hpp"
#include "transform/upper.hpp"

namespace echod::testing {

using runtime::clock;

struct test_server::state {
  server_behaviour behaviour;
  io::listener listener;
  runtime::deadline stall_until{};  // touched on the server thread only
  std::unique_ptr<runtime::scheduler_pool> pool;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> accepted{0};
  mutable std::mutex peers_lock;
  std::set<std::string> peers;

  void note_peer(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, text, sizeof text);
    }
    std::lock_guard lock(peers_lock);
    peers.insert(text);
  }

  void serve(io::stream conn) {
    conn.set_nodelay(true);
    std::vector<char> buf(64 * 1024);
    bool first = true;
    for (;;) {
      const io::io_result n = conn.read_some(buf.data(), buf.size());
      if (n <= 0) return;
      received.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      auto len = static_cast<std::size_t>(n);
      if (clock::now() < stall_until) runtime::scheduler::current()->sleep_until(stall_until);
      switch (behaviour) {
        case server_behaviour::upper:
          transform::upper_in_place(buf.data(), len);
          break;
        case server_behaviour::echo:
          break;
        case server_behaviour::drop_last_byte:
          transform::upper_in_place(buf.data(), len);
          --len;
          break;
        case server_behaviour::close_mid_reply:
          transform::upper_in_place(buf.data(), len);
          if (first) conn.write_all(buf.data(), len / 2);
          return;
        case server_behaviour::reset:
          conn.set_reset_on_close();
          return;
      }
      first = false;
      if (len > 0 && conn.write_all(buf.data(), len) < 0) return;
    }
  }
};

test_server::test_server(io::backend_kind backend, server_behaviour behaviour)
    : state_(std::make_unique<state>()) {
  state_->behaviour = behaviour;
  std::promise<io::address> bound;
  auto bound_future = bound.get_future();
  state* s = state_.get();
  s->pool = std::make_unique<runtime::scheduler_pool>(
      runtime::scheduler_pool::options{
          .threads = 1, .per_thread = {}, .thread_name = "test-server", .cpus = {}},
      [backend](std::size_t) { return io::make_reactor(backend); },
      [s, &bound](runtime::scheduler& sched, std::size_t) {
        try {
          s->listener = io::listener::open(*io::address::parse("127.0.0.1:0"));
        } catch (...) {
          bound.set_exception(std::current_exception());
          throw;
        }
        bound.set_value(s->listener.local_address());
        sched.spawn([s] {
          // Opened before this thread's scheduler ran: register it here, where it accepts.
          io::reactor::current().add_listener(s->listener.slot(), io::acceptors::one);
          for (;;) {
            io::stream conn;
            if (s->listener.accept(conn) != 0) return;  // cancelled: the test is over
            s->accepted.fetch_add(1, std::memory_order_relaxed);
            s->note_peer(conn.fd());
            runtime::scheduler::current()->spawn(
                [s, c = std::make_shared<io::stream>(std::move(conn))]() mutable {
                  s->serve(std::move(*c));
                });
          }
        });
      });
  address_ = bound_future.get();
}

test_server::~test_server() {
  state_->pool->stop();
  state_->pool->join();
}

void test_server::stall(std::chrono::nanoseconds d) {
  const auto until = clock::now() + d;
  state* s = state_.get();
  s->pool->post_all([s, until](runtime::scheduler&) { s->stall_until = until; });
}

}  // namespace echod::testing

namespace echod::testing {

std::uint64_t test_server::bytes_received() const {
  return state_->received.load(std::memory_order_relaxed);
}

std::uint64_t test_server::connections_accepted() const {
  return state_->accepted.load(std::memory_order_relaxed);
}

std::set<std::string> test_server::peers() const {
  std::lock_guard lock(state_->peers_lock);
  return state_->peers;
}

}  // namespace echod::testing
