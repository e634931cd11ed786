// N threads, each running its own scheduler over its own poller: the shared-nothing unit of a
// worker process. Threads share nothing on the data path; the only way in is post().
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/scheduler.hpp"

namespace echod::runtime {

class scheduler_pool {
 public:
  /// Builds the poller for thread `index`, on that thread (so io_uring's single-issuer rings are
  /// created by the thread that uses them).
  using poller_factory = std::function<std::unique_ptr<poller>(std::size_t index)>;
  /// Spawns the thread's first coroutines; the thread ends when all its coroutines have finished.
  using thread_main = std::function<void(scheduler&, std::size_t index)>;

  struct options {
    std::size_t threads = 1;
    scheduler::options per_thread;      ///< options of every thread's scheduler
    std::string thread_name = "sched";  ///< shown as NAME-INDEX by ps/top (15 chars at most)
    std::vector<int> cpus;              ///< pin thread i to cpus[i % size]; empty: no pinning
  };

  /// Starts the threads. If one cannot be created, cancels and joins those already started, then
  /// rethrows (std::system_error): a pool is either fully started or not at all.
  scheduler_pool(options opts, poller_factory make_poller, thread_main main);
  /// Joins (it does not stop: call stop() or arrange for the coroutines to finish first).
  ~scheduler_pool();

  /// Runs `fn` on every scheduler's thread. Safe from any thread, until join() returned.
  void post_all(const std::function<void(scheduler&)>& fn);
  /// Cancels every coroutine on every thread (threads then end as their coroutines finish).
  void stop() {
    post_all([](scheduler& s) { s.cancel_all(); });
  }
  void join();
  std::size_t size() const { return threads_.size(); }
  /// Startup errors (poller creation, thread main) from the threads, in thread order.
  std::vector<std::string> errors() const;

 private:
  struct slot;
  void start_threads(const options& opts, const poller_factory& make_poller,
                     const thread_main& main);
  std::vector<std::unique_ptr<slot>> slots_;
  std::vector<std::thread> threads_;
};

}  // namespace echod::runtime
