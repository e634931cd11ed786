// The load driver (see driver.hpp). The threads share nothing on the data path: each writes its
// own thread_state; the calling thread reads only the relaxed `live` counters until the
// threads have been joined, then everything.
#include "client/driver.hpp"

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "client/connection.hpp"
#include "client/limits.hpp"
#include "client/machine.hpp"
#include "client/payload.hpp"
#include "config/host_port.hpp"
#include "io/backend.hpp"
#include "runtime/scheduler_pool.hpp"

namespace echod::client {
namespace {

using runtime::clock;
using runtime::deadline;

// Files echoload holds besides its sockets: stdio, the JSON report, the payload file while it is
// read, and a reactor (epoll or ring, plus an eventfd) per thread.
std::size_t reserved_files(std::size_t threads) { return 16 + 2 * threads; }

io::address source_address(const std::string& ip) {
  return *io::address::parse(config::with_port(ip, 0));
}

// Counts connections down to zero; the calling thread waits on it. One lock per connection's
// end, never per message.
class completion {
 public:
  explicit completion(std::size_t n) : remaining_(n) {}
  void done(std::size_t n = 1) {
    std::lock_guard lock(lock_);
    remaining_ -= std::min(n, remaining_);
    if (remaining_ == 0) changed_.notify_all();
  }
  /// Waits until all are done or `until`; true when all are done.
  bool wait_until(deadline until) {
    std::unique_lock lock(lock_);
    return changed_.wait_until(lock, until, [&] { return remaining_ == 0; });
  }

 private:
  std::mutex lock_;
  std::condition_variable changed_;
  std::size_t remaining_;
};

// Calls completion::done() when a connection's coroutine ends, however it ends.
struct done_guard {
  completion& c;
  ~done_guard() { c.done(); }
};

// Merges the threads' finished intervals slot by slot, as soon as every thread has finished a
// slot: each thread cuts at the same boundaries, so the i-th intervals line up.
class timeline_collector {
 public:
  explicit timeline_collector(std::size_t threads) : per_thread_(threads) {}

  /// Takes what the threads finished since the last call; returns the slots now complete.
  std::vector<interval> collect(const std::vector<std::unique_ptr<thread_state>>& states) {
    std::size_t complete = SIZE_MAX;
    for (std::size_t t = 0; t < states.size(); ++t) {
      auto more = states[t]->intervals.take(per_thread_[t].size());
      per_thread_[t].insert(per_thread_[t].end(), std::make_move_iterator(more.begin()),
                            std::make_move_iterator(more.end()));
      complete = std::min(complete, per_thread_[t].size());
    }
    std::vector<interval> out;
    for (std::size_t i = merged_.size(); i < complete; ++i) {
      interval m = per_thread_[0][i];
      for (std::size_t t = 1; t < per_thread_.size(); ++t) merge_interval(m, per_thread_[t][i]);
      merged_.push_back(m);
      out.push_back(std::move(m));
    }
    return out;
  }
  const std::vector<interval>& timeline() const { return merged_; }

 private:
  std::vector<std::vector<interval>> per_thread_;
  std::vector<interval> merged_;
};

std::size_t connections_of_thread(std::size_t connections, std::size_t threads, std::size_t t) {
  return connections / threads + (t < connections % threads ? 1 : 0);
}

payload build_payload(const options& o) {
  const transform expect = o.expect == "echo" ? transform::echo : transform::upper;
  payload data;
  try {
    data = payload::make(o.payload, o.size, expect);
  } catch (const std::runtime_error& e) {
    throw setup_error(e.what());
  }
  if (o.payload.rfind("file:", 0) == 0) {
    if (o.size_set && o.size != data.size()) {
      throw setup_error("--size " + std::to_string(o.size) + " conflicts with --payload " +
                        o.payload + ", which is " + std::to_string(data.size()) +
                        " bytes: a file payload is sent whole; drop --size");
    }
    if (data.size() > max_message_size) {
      throw setup_error("--payload " + o.payload + " is " + std::to_string(data.size()) +
                        " bytes; messages are limited to " + std::to_string(max_message_size));
    }
  }
  return data;
}

}  // namespace

run_result run_load(const options& o, const run_hooks& hooks) {
  validate(o);
  const auto backend = io::resolve_backend(o.backend);
  if (!backend) throw setup_error(backend.error());

  const std::size_t connections = o.connections;
  const std::size_t threads = std::min<std::size_t>(o.threads, connections);
  if (const auto files = check_open_files(connections, reserved_files(threads)); !files) {
    throw setup_error(files.error());
  }
  if (const auto ports = check_local_ports(connections, o.source.size()); !ports) {
    throw setup_error(ports.error());
  }

  const payload data = build_payload(o);
  load_plan plan;
  plan.target = *io::address::parse(o.target);
  for (const std::string& s : o.source) plan.sources.push_back(source_address(s));
  plan.data = &data;
  plan.connections = connections;
  plan.pipeline = o.pipeline;
  plan.timeout = o.timeout;
  plan.rate = o.rate;
  plan.connect_rate = o.connect_rate;
  plan.messages = o.messages;
  plan.messages_per_connection = o.messages_per_connection;

  run_result result;
  result.started_at = utc_now_iso8601();
  const deadline start = clock::now();
  plan.clock = interval_clock::at(
      start, o.warmup, o.time_limited() ? start + o.warmup + o.duration : runtime::no_deadline);
  const bool open_loop = plan.rate > 0;

  std::vector<std::unique_ptr<thread_state>> states;
  for (std::size_t t = 0; t < threads; ++t) {
    states.push_back(std::make_unique<thread_state>(plan.clock, open_loop));
    states.back()->per_connection.assign(connections_of_thread(connections, threads, t), 0);
  }
  completion all_done(connections);

  runtime::scheduler_pool::options pool_opts;
  pool_opts.threads = threads;
  pool_opts.thread_name = "echoload";
  io::reactor_options reactor_opts;
  // Room for a read per connection in one submission batch, within io_uring's limits.
  reactor_opts.ring_entries = static_cast<unsigned>(
      std::clamp<std::size_t>(std::bit_ceil(connections / threads + 64), 256, 4096));
  runtime::scheduler_pool pool(
      pool_opts,
      [&](std::size_t t) -> std::unique_ptr<runtime::poller> {
        try {
          return io::make_reactor(*backend, reactor_opts);
        } catch (...) {
          all_done.done(states[t]->per_connection.size());  // they will never run
          throw;
        }
      },
      [&](runtime::scheduler& sched, std::size_t t) {
        try {
          // Cuts the thread's timeline at every boundary, even when no message comes.
          sched.spawn([&st = *states[t]] {
            while (runtime::scheduler::current()->sleep_until(st.intervals.current_end()) !=
                   runtime::wake_reason::cancelled) {
              st.intervals.advance(clock::now(), st.open);
            }
          });
          for (std::size_t i = t, local = 0; i < connections; i += threads, ++local) {
            sched.spawn([&plan, &states, &all_done, t, i, local] {
              done_guard guard{all_done};
              run_connection(plan, *states[t], i, local);
            });
          }
        } catch (...) {
          // The scheduler drops coroutines that never started: none of this thread's will run.
          all_done.done(states[t]->per_connection.size());
          throw;
        }
      });

  // Wait for the end, reporting each interval once every thread has finished it. This thread
  // only waits, and on nothing that is a descriptor, so a condition variable with a deadline is
  // the whole of it; echod's master and workers run a scheduler over epoll on their main thread
  // because they wait on descriptors (a signalfd, pipes), which a condition variable cannot.
  // The connections' ends notify it. Two things cannot, and are looked at every 100 ms: the
  // interrupt flag (a signal handler may neither lock nor post) and the intervals the threads
  // finished (progress prints once a second, at most 100 ms late). A scheduler would look at
  // both on the same 100 ms timer, with an epoll set and an eventfd added to wake it; only an
  // interrupt that arrives as a descriptor (a signalfd from the caller) would remove the slice.
  timeline_collector collector(threads);
  bool finished = false;
  for (;;) {
    const deadline now = clock::now();
    if (now >= plan.clock.measure_end) break;
    if (hooks.interrupted != nullptr && hooks.interrupted->load(std::memory_order_relaxed)) break;
    if (hooks.on_progress) {
      for (const interval& i : collector.collect(states)) hooks.on_progress(i);
    }
    // Short slices, for the flag and the progress (see above).
    if (all_done.wait_until(
            std::min(plan.clock.measure_end, now + std::chrono::milliseconds(100)))) {
      finished = true;
      break;
    }
  }
  const deadline stopped = clock::now();
  if (!finished) {
    // Wind down: no new messages; give the replies in flight a moment to come back so every
    // connection closes cleanly, then cancel whatever is still waiting.
    for (auto& st : states) st->winding_down.store(true, std::memory_order_relaxed);
    const auto grace = std::min<clock::duration>(plan.timeout, std::chrono::seconds(1));
    const bool interrupted_by_user =
        hooks.interrupted != nullptr && hooks.interrupted->load(std::memory_order_relaxed);
    if (!interrupted_by_user) all_done.wait_until(clock::now() + grace);
  }
  pool.stop();
  pool.join();
  if (const auto errors = pool.errors(); !errors.empty()) {
    std::string text = "load threads failed to start:";
    for (const auto& e : errors) text += "\n  " + e;
    throw setup_error(text);
  }

  // Merge the threads' results: their last intervals end now, then the timeline is complete.
  const deadline joined = clock::now();
  for (auto& st : states) st->intervals.finish(joined, st->open);
  collector.collect(states);
  result.timeline = collector.timeline();
  result.open_loop = open_loop;
  result.target = o.target;
  result.config_json = options_to_json(o);
  result.machine = this_machine();
  result.backend = io::backend_name(*backend);
  result.threads = static_cast<unsigned>(threads);
  result.connections = o.connections;
  result.per_connection.assign(connections, 0);
  deadline last_completion{};
  bool ports_exhausted = false;
  bool out_of_files = false;
  add_timeline_totals(result);
  for (std::size_t t = 0; t < threads; ++t) {
    const thread_state& st = *states[t];
    for (std::size_t c = 0; c < error_class_count; ++c) {
      if (result.error_examples[c].empty()) result.error_examples[c] = st.first_error[c];
    }
    result.connect_latency.merge(st.connect_latency);
    for (std::size_t c = 0; c < connect_failure_count; ++c) {
      result.connect_errors[c] += st.connect_errors[c];
    }
    for (std::size_t local = 0; local < st.per_connection.size(); ++local) {
      result.per_connection[t + local * threads] = st.per_connection[local];
    }
    last_completion = std::max(last_completion, st.last_completion);
    ports_exhausted = ports_exhausted || st.ports_exhausted;
    out_of_files = out_of_files || st.out_of_files;
  }

  // The measured window ends at its planned end, at an interruption, or - when every
  // connection finished on its own (message quota met, or errors) - at the last reply.
  deadline end = std::min(stopped, plan.clock.measure_end);
  if (finished && result.messages > 0) end = last_completion;
  const auto window = end - plan.clock.measure_start;
  result.duration_s =
      window > clock::duration::zero() ? std::chrono::duration<double>(window).count() : 0.0;
  set_rates(result);
  if (ports_exhausted) result.notes.push_back(ports_exhausted_hint());
  if (out_of_files) {
    result.notes.push_back(
        "connect failed with \"Too many open files\": raise the open-file limit (ulimit -n) or "
        "use fewer connections");
  }
  return result;
}

}  // namespace echod::client
