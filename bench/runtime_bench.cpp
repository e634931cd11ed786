// Micro-benchmarks of the runtime and reactors (Google Benchmark; built, not run as tests):
// a coroutine switch, spawn+finish, a deadline park+wake among many timers, and a loopback
// ping-pong of 64-byte messages per backend.
// Run: build/bench/echod_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include "io/backend.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"

namespace echod {
namespace {

using runtime::scheduler;
using namespace std::chrono_literals;

std::unique_ptr<scheduler> make(io::backend_kind kind) {
  return std::make_unique<scheduler>(io::make_reactor(kind));
}

// Three coroutines yielding in turn (two, plus the one that runs the benchmark loop): each yield
// is one switch out to the scheduler and one into the next coroutine, reported per switch. The
// scheduler loop's own overhead per turn is included, shared among the switches.
void coroutine_switch(benchmark::State& state) {
  auto sched = make(io::backend_kind::epoll);
  bool stop = false;
  std::int64_t switches = 0;
  for (int i = 0; i < 2; ++i) {
    sched->spawn([&] {
      while (!stop) {
        ++switches;
        runtime::this_coroutine::yield();
      }
    });
  }
  sched->spawn([&] {
    for (auto _ : state) {
      ++switches;  // this coroutine yields each turn too: three yields per turn, not two
      runtime::this_coroutine::yield();
    }
    stop = true;
  });
  sched->run();
  state.SetItemsProcessed(switches);
  // A yield is two switches (coroutine -> scheduler -> next coroutine).
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(switches) * 2, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(coroutine_switch);

void spawn_and_finish(benchmark::State& state) {
  auto sched = make(io::backend_kind::epoll);
  for (auto _ : state) {
    sched->spawn([] {});
    sched->run();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(spawn_and_finish);

// Park with a deadline and wake, as a connection does per message (a read with an idle timeout),
// among `range(0)` other coroutines parked with deadlines: the timer bookkeeping per wait.
void park_with_deadline_and_wake(benchmark::State& state) {
  auto sched = make(io::backend_kind::epoll);
  const auto others = static_cast<int>(state.range(0));
  bool stop = false;
  for (int i = 0; i < others; ++i) {
    sched->spawn([&, i] {
      while (!stop) runtime::this_coroutine::park(runtime::clock::now() + 300s + i * 1ms);
    });
  }
  runtime::coroutine* parker = sched->spawn([&] {
    while (!stop) runtime::this_coroutine::park(runtime::clock::now() + 300s);
  });
  sched->spawn([&] {
    for (auto _ : state) {
      scheduler::current()->wake(parker);
      runtime::this_coroutine::yield();
    }
    stop = true;
    scheduler::current()->cancel_all();
  });
  sched->run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(park_with_deadline_and_wake)->Arg(0)->Arg(1000)->Arg(10000);

void loopback_ping_pong(benchmark::State& state, io::backend_kind kind) {
  if (kind == io::backend_kind::io_uring && !io::probe_io_uring().usable) {
    state.SkipWithError("io_uring unavailable");
    return;
  }
  auto sched = make(kind);
  sched->spawn([&] {
    io::listener l = io::listener::open(*io::address::parse("127.0.0.1:0"));
    io::stream client;
    io::stream::connect(l.local_address(), client);
    io::stream server;
    l.accept(server);
    client.set_nodelay(true);
    server.set_nodelay(true);
    bool server_done = false;
    scheduler::current()->spawn([&] {
      char buf[64];
      for (;;) {
        const auto n = server.read_some(buf, sizeof buf);
        if (n <= 0) break;
        server.write_all(buf, static_cast<std::size_t>(n));
      }
      server_done = true;
    });
    char msg[64] = {};
    for (auto _ : state) {
      client.write_all(msg, sizeof msg);
      client.read_exact(msg, sizeof msg);
    }
    client.close();
    // `server` lives in this frame: wait until the echo coroutine has seen the close.
    while (!server_done) runtime::this_coroutine::yield();
  });
  sched->run();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(loopback_ping_pong, epoll, io::backend_kind::epoll)->UseRealTime();
BENCHMARK_CAPTURE(loopback_ping_pong, io_uring, io::backend_kind::io_uring)->UseRealTime();

}  // namespace
}  // namespace echod

BENCHMARK_MAIN();
