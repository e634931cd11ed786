// One worker scheduler thread in-process, over each backend: a retiring thread stops accepting but
// keeps serving its connections, and a client that arrives meanwhile waits in the shared backlog
// for the next thread (the reload handover, without processes); a client that arrives just as a
// thread retires is served all the same; a closing thread answers what it has read and ends every
// connection with EOF; on_done fires once the last connection ends; the `active` gauge counts
// exactly the open connections, and a full thread accepts again as soon as one of them leaves.
#include "server/worker_thread.hpp"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"
#include "io/backend.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"
#include "server/worker_options.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;
using testing::client;

// A worker_thread on its own std::thread and scheduler, controlled from the test thread.
class running_thread {
 public:
  running_thread(const worker_plan& plan, io::backend_kind backend)
      : worker_(plan, counters_, [this] { done_ = true; }) {
    thread_ = std::thread([this, backend] {
      runtime::scheduler sched(io::make_reactor(backend));
      sched_ = &sched;
      worker_.start(sched);
      worker_.open();
      started_ = true;
      started_.notify_all();
      sched.run();
      sched_ = nullptr;
    });
    started_.wait(false);
  }
  ~running_thread() {
    if (thread_.joinable()) thread_.join();
  }

  /// Runs `fn` on the thread, e.g. &worker_thread::stop_accepting.
  void post(std::function<void(worker_thread&)> fn) {
    sched_->post([this, fn = std::move(fn)] { fn(worker_); });
  }
  bool done() const { return done_; }
  void join() { thread_.join(); }
  const stats::thread_counters& counters() const { return counters_; }

 private:
  stats::thread_counters counters_;
  worker_thread worker_;
  std::atomic<bool> done_{false};
  std::atomic<bool> started_{false};  // a member: the thread notifies after the constructor returns
  runtime::scheduler* sched_ = nullptr;
  std::thread thread_;
};

class worker_thread_test : public testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped()) return;
    listener_ = io::listener::open(*io::address::parse("127.0.0.1:0"));
    port_ = listener_.local_address().port();
    plan_ = make_plan({});
  }

  /// The plan a worker of `cfg` (service upper) gives its threads, with the test's listener.
  worker_plan make_plan(config::server_config cfg) const {
    cfg.service = config::service_kind::upper;
    cfg.threads = 2;  // tests run two threads on one listener: neither may take it as its own
    return make_worker_options(cfg, {listener_.fd()}, {}).plan;
  }

  io::listener listener_;
  int port_ = 0;
  worker_plan plan_;
};

TEST_P(worker_thread_test, retiring_serves_open_connections_and_leaves_new_ones_to_the_next) {
  auto old_thread = std::make_unique<running_thread>(plan_, GetParam());
  client open(port_);
  ASSERT_TRUE(open.round_trip("served by the old thread"));
  old_thread->post(&worker_thread::stop_accepting);
  std::this_thread::sleep_for(20ms);

  client waiting(port_);  // connects: the listening socket is still open, its backlog holds it
  ASSERT_TRUE(waiting.connected());
  ASSERT_TRUE(waiting.send_all("wait for me"));
  EXPECT_FALSE(waiting.readable_within(200ms)) << "a retiring thread accepted";
  EXPECT_TRUE(open.round_trip("the old thread still serves its own"));

  running_thread new_thread(plan_, GetParam());
  ASSERT_TRUE(waiting.readable_within(5s));
  EXPECT_EQ(waiting.recv_exact(11), "WAIT FOR ME");

  EXPECT_FALSE(old_thread->done());
  open.close();
  old_thread->join();  // its last connection is gone: the scheduler has nothing left to run
  EXPECT_TRUE(old_thread->done());
  EXPECT_EQ(old_thread->counters().accepted.load(), 1u);
  EXPECT_EQ(old_thread->counters().closed.load(), 1u);
  new_thread.post(&worker_thread::begin_closing);
}

// The reload race, made deterministic: a client arrives while the old thread waits in accept, and
// the thread retires before it has looked at what the kernel told it. io_uring's accept waits
// exclusively (each new connection is announced to one waiter only, the oldest: here the old
// thread), so if its cancelled accept took the announcement along, the new thread would never
// hear of the client, which would sit in the backlog until another one came.
TEST_P(worker_thread_test, a_client_arriving_as_the_thread_retires_is_served) {
  running_thread old_thread(plan_, GetParam());
  client first(port_);
  ASSERT_TRUE(first.round_trip("the old thread waits in accept again"));
  running_thread new_thread(plan_, GetParam());
  // Time for the new thread to wait in accept too. Only the test's reach depends on it: a new
  // thread that starts waiting after the client came finds the client in the backlog itself.
  std::this_thread::sleep_for(100ms);

  // Hold the old thread between two turns while the client connects, then retire it: its
  // completions (the announcement) are processed only after the cancel is submitted.
  std::atomic<bool> held{false};
  std::atomic<bool> connected{false};
  old_thread.post([&](worker_thread& t) {
    held = true;
    held.notify_all();
    connected.wait(false);
    t.stop_accepting();
  });
  held.wait(false);
  const auto accepted = [&] {
    return old_thread.counters().accepted.load() + new_thread.counters().accepted.load();
  };
  const auto accepted_before = accepted();
  client late(port_, 5s);
  // Until the kernel has queued the client (and so announced it), or a thread took it already
  // (epoll announces it to every thread).
  for (const auto until = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < until && accepted() == accepted_before;) {
    pollfd queued{listener_.fd(), POLLIN, 0};
    if (::poll(&queued, 1, 10) == 1) break;
  }
  connected = true;
  connected.notify_all();
  EXPECT_TRUE(late.round_trip("served by one thread or the other"));

  late.close();
  first.close();
  old_thread.join();
  new_thread.post(&worker_thread::begin_closing);
}

TEST_P(worker_thread_test, closing_answers_what_was_sent_then_ends_each_connection_with_eof) {
  running_thread t(plan_, GetParam());
  client idle(port_);
  client busy(port_);
  ASSERT_TRUE(idle.round_trip("one"));
  ASSERT_TRUE(busy.round_trip("two"));
  const std::string pending = testing::random_bytes(256 * 1024, 9);
  ASSERT_TRUE(busy.send_all(pending));  // not read back yet: the server's writes may block
  t.post(&worker_thread::begin_closing);
  bool idle_clean = false;
  EXPECT_EQ(idle.recv_until_eof(&idle_clean), "");
  EXPECT_TRUE(idle_clean);
  bool busy_clean = false;
  EXPECT_TRUE(busy.recv_until_eof(&busy_clean) == testing::python_upper(pending));
  EXPECT_TRUE(busy_clean);
  t.join();
  EXPECT_TRUE(t.done());
  client late(port_);  // nobody accepts any more; the backlog holds it
  EXPECT_FALSE(late.readable_within(100ms));
}

// The registry's count is the stats gauge the admin endpoint reports, and a connection leaving it
// frees its slot: with every slot taken a new client waits in the backlog until one closes.
TEST_P(worker_thread_test, active_counts_open_connections_and_a_leaving_one_frees_its_slot) {
  config::server_config cfg;
  cfg.coroutines = 2;
  cfg.overload.enabled = false;  // nothing but a close may free a slot here
  plan_ = make_plan(cfg);
  running_thread t(plan_, GetParam());
  const auto eventually = [](auto done) {
    for (const auto until = std::chrono::steady_clock::now() + 5s;
         std::chrono::steady_clock::now() < until;) {
      if (done()) return true;
      std::this_thread::sleep_for(1ms);
    }
    return done();
  };
  const auto& c = t.counters();
  client a(port_);
  client b(port_);
  ASSERT_TRUE(a.round_trip("a"));
  ASSERT_TRUE(b.round_trip("b"));
  EXPECT_EQ(c.active.load(), 2u);
  client waiting(port_);
  ASSERT_TRUE(waiting.send_all("c"));
  EXPECT_FALSE(waiting.readable_within(200ms)) << "a third connection got a slot";
  EXPECT_EQ(c.accepted.load(), 2u);

  a.close();
  ASSERT_TRUE(waiting.readable_within(5s));
  EXPECT_EQ(waiting.recv_exact(1), "C");
  EXPECT_TRUE(eventually([&] { return c.closed.load() == 1; }));
  EXPECT_EQ(c.accepted.load(), 3u);
  EXPECT_EQ(c.active.load(), 2u);

  t.post(&worker_thread::begin_closing);
  t.join();
  EXPECT_TRUE(t.done());
  EXPECT_EQ(c.active.load(), 0u);
  EXPECT_EQ(c.closed.load(), 3u);
}

ECHOD_INSTANTIATE_BACKENDS(worker_thread_test);

}  // namespace
}  // namespace echod::server
