#include "server/worker.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "io/reactor_epoll.hpp"
#include "runtime/scheduler_pool.hpp"
#include "server/exit_codes.hpp"
#include "server/logging.hpp"
#include "server/process_title.hpp"
#include "server/signals.hpp"
#include "server/worker_options.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;
using runtime::clock;
using runtime::no_deadline;

// A thread that has neither started nor failed by then is stuck (it only creates a reactor).
constexpr auto startup_limit = 10s;

// Ending (shutdown_timeout passed): how long connections get to answer what they have read and
// end with FIN before the rest is cancelled (a reset). It must stay well below the master's
// stop_margin (1 s), after which it kills the worker.
constexpr auto ending_grace = 500ms;

void log_uncaught(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("a coroutine ended with an exception: {}", ex.what());
  } catch (...) {
    spdlog::error("a coroutine ended with a non-standard exception");
  }
}

// One worker process once its signals and plan are set up. Its main thread runs a scheduler of
// its own over epoll (main_), as the master does, with one coroutine on it: the supervisor. It
// waits for the scheduler threads to start, then for a signal or the end of the current phase,
// whichever comes first, until every thread has ended. The threads report (started, failed,
// done) by posting to main_'s mailbox: each report runs on the main thread between turns and
// wakes the supervisor, so the state here is only ever touched by the main thread, and the
// phases change in the supervisor alone, one at a time.
class worker_process {
 public:
  worker_process(const worker_args& args, const worker_options& opts, signal_reader& signals,
                 stats::thread_counters* counters, std::unique_ptr<io::reactor> loop)
      : args_(args),
        opts_(opts),
        signals_(signals),
        counters_(counters),
        threads_(static_cast<unsigned>(opts.pool.threads)),
        main_(std::move(loop), {.on_uncaught_exception = log_uncaught}) {}

  /// Starts the threads, tells the master we serve, serves until told to end and every thread
  /// has ended; returns the exit code. Nothing is accepted unless every thread started.
  int run();

 private:
  bool start_threads();
  void supervise();
  bool threads_started();
  void announce_ready();
  /// From a scheduler thread: runs `event` on the main thread, then wakes the supervisor.
  void report(std::function<void()> event);
  void on_signal(int sig);
  void on_phase_end();
  void on_each_thread(void (worker_thread::*fn)());
  void begin_retire();
  void begin_closing(clock::duration grace, const char* why);
  void begin_ending();
  std::uint64_t open_connections() const;
  io::reactor& reactor() { return static_cast<io::reactor&>(main_.io()); }

  const worker_args& args_;
  const worker_options& opts_;
  signal_reader& signals_;
  stats::thread_counters* counters_;
  const unsigned threads_;
  std::vector<std::unique_ptr<worker_thread>> per_thread_;
  runtime::scheduler main_;  // before pool_: the threads post to it until they are joined
  std::unique_ptr<runtime::scheduler_pool> pool_;
  runtime::coroutine* supervisor_ = nullptr;

  // What the threads reported (report()).
  unsigned started_ = 0;
  std::vector<std::string> failures_;
  unsigned threads_done_ = 0;

  enum class phase { serving, retiring, closing, ending };
  phase phase_ = phase::serving;
  runtime::deadline phase_end_ = no_deadline;  // on_phase_end() then
  int exit_code_ = exit_code::ok;
};

int worker_process::run() {
  if (!start_threads()) return exit_code::cannot_start;
  supervisor_ = main_.spawn([this] {
    supervise();
    supervisor_ = nullptr;  // late reports (a thread ending after a failed start) wake no one
  });
  main_.run();
  pool_->join();
  return exit_code_;
}

void worker_process::report(std::function<void()> event) {
  main_.post([this, event = std::move(event)] {
    event();
    if (supervisor_ != nullptr) main_.wake(supervisor_);
  });
}

bool worker_process::start_threads() {
  for (unsigned i = 0; i < threads_; ++i) {
    per_thread_.push_back(std::make_unique<worker_thread>(
        opts_.plan, counters_[i], [this] { report([this] { ++threads_done_; }); }));
  }
  const auto failed = [this](std::size_t i, const std::exception& e) {
    report([this, why = "thread " + std::to_string(i) + ": " + e.what()] {
      failures_.push_back(why);
    });
  };

  runtime::scheduler_pool::options pool_opts = opts_.pool;
  pool_opts.per_thread.on_uncaught_exception = log_uncaught;
  try {
    pool_ = std::make_unique<runtime::scheduler_pool>(
        std::move(pool_opts),
        [this, failed](std::size_t i) -> std::unique_ptr<runtime::poller> {
          try {
            io::reactor_options thread_opts = opts_.reactor;
            thread_opts.counters = &counters_[i].io;
            return io::make_reactor(args_.backend, thread_opts);
          } catch (const std::exception& e) {
            failed(i, e);
            throw;
          }
        },
        [this, failed](runtime::scheduler& sched, std::size_t i) {
          try {
            per_thread_[i]->start(sched);
            report([this] { ++started_; });
          } catch (const std::exception& e) {
            failed(i, e);
            throw;
          }
        });
  } catch (const std::exception& e) {
    spdlog::error("cannot start: cannot create a scheduler thread: {}", e.what());
    return false;
  }
  return true;
}

void worker_process::supervise() {
  if (!threads_started()) {
    exit_code_ = exit_code::cannot_start;
    pool_->stop();  // the threads that did start end (run() joins them); none has accepted
    return;
  }
  announce_ready();
  while (threads_done_ < threads_) {
    // A report wakes this wait early too: it then returns 0 with no signal pending.
    const int got = reactor().wait_readable(signals_.fd(), phase_end_);
    if (got == 0) {
      while (const auto sig = signals_.next()) on_signal(*sig);
    } else if (got == -ETIMEDOUT) {
      on_phase_end();
    } else {
      // Deaf to the master, which would have to kill us: end now instead.
      spdlog::error("cannot wait for signals: {}; stopping", std::strerror(-got));
      exit_code_ = exit_code::failure;
      pool_->stop();
      break;
    }
  }
  reactor().forget(signals_.fd());
  if (exit_code_ == exit_code::ok && phase_ == phase::serving) {
    spdlog::error("every scheduler thread ended while serving; exiting");
    exit_code_ = exit_code::failure;
  }
}

bool worker_process::threads_started() {
  const runtime::deadline limit = clock::now() + startup_limit;
  while (failures_.empty() && started_ < threads_) {
    if (clock::now() >= limit) {
      spdlog::error("cannot start: threads did not start within 10 s");
      // A stuck thread would hang join(): leave at once. No thread has accepted anything yet.
      std::_Exit(exit_code::cannot_start);
    }
    main_.park(limit);
  }
  for (const auto& f : failures_) spdlog::error("cannot start: {}", f);
  return failures_.empty();
}

void worker_process::announce_ready() {
  // Every thread is up: only now may any of them take a connection.
  on_each_thread(&worker_thread::open);
  if (args_.ready_fd >= 0) {
    const char ready = 'R';
    [[maybe_unused]] const ssize_t w = ::write(args_.ready_fd, &ready, 1);
    ::close(args_.ready_fd);
  }
  spdlog::info(
      "ready (pid {}, generation {}): {} thread{} on {}, service {}, up to {} "
      "connections per thread",
      getpid(), args_.generation, threads_, threads_ == 1 ? "" : "s",
      io::backend_name(args_.backend), config::name_of(opts_.plan.svc->kind),
      opts_.plan.limits.capacity);
}

void worker_process::on_signal(int sig) {
  if (sig == SIGTERM && (phase_ == phase::serving || phase_ == phase::retiring)) {
    begin_closing(opts_.shutdown_timeout, "stop");
  } else if (sig == SIGQUIT && phase_ == phase::serving) {
    begin_retire();
  }
}

void worker_process::on_phase_end() {
  switch (phase_) {
    case phase::serving:  // has no end
      return;
    case phase::retiring:
      return begin_closing(retire_closing_grace, "retire: shutdown_timeout passed");
    case phase::closing:
      return begin_ending();
    case phase::ending:
      break;
  }
  const std::uint64_t open = open_connections();
  spdlog::warn("stop: forcing {} connection{} closed", open, open == 1 ? "" : "s");
  pool_->stop();  // cancels every coroutine: reads and writes in progress end with ECANCELED
  phase_end_ = no_deadline;
}

void worker_process::on_each_thread(void (worker_thread::*fn)()) {
  pool_->post_all([this, fn](runtime::scheduler& s) {
    for (auto& t : per_thread_) {
      if (t->scheduler() == &s) ((*t).*fn)();
    }
  });
}

std::uint64_t worker_process::open_connections() const {
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < threads_; ++i) {
    sum += counters_[i].active.load(std::memory_order_relaxed);
  }
  return sum;
}

// Both phases tell the threads first and log after: whoever reads the log line (a test, an
// operator) may rely on every thread having been told.
void worker_process::begin_retire() {
  const std::uint64_t open = open_connections();
  on_each_thread(&worker_thread::stop_accepting);
  spdlog::info(
      "retire: no longer accepting; serving {} open connection{} until {} close{} "
      "(at most {} s)",
      open, open == 1 ? "" : "s", open == 1 ? "it" : "they", open == 1 ? "s" : "",
      config::to_seconds(opts_.shutdown_timeout));
  phase_ = phase::retiring;
  phase_end_ = clock::now() + opts_.shutdown_timeout;
}

void worker_process::begin_closing(clock::duration grace, const char* why) {
  const std::uint64_t open = open_connections();
  on_each_thread(&worker_thread::begin_closing);
  spdlog::info("{}: closing {} connection{} (within {} ms)", why, open, open == 1 ? "" : "s",
               std::chrono::duration_cast<std::chrono::milliseconds>(grace).count());
  phase_ = phase::closing;
  phase_end_ = clock::now() + grace;
}

void worker_process::begin_ending() {
  const std::uint64_t open = open_connections();
  on_each_thread(&worker_thread::end_connections);
  spdlog::info(
      "shutdown_timeout passed: ending {} connection{}: no more reading, every byte read is "
      "answered, then FIN (within {} ms)",
      open, open == 1 ? "" : "s",
      std::chrono::duration_cast<std::chrono::milliseconds>(ending_grace).count());
  phase_ = phase::ending;
  phase_end_ = clock::now() + ending_grace;
}

}  // namespace

int run_worker(const worker_args& args) {
  // We are the child of a fork the master made between turns of its scheduler (master_loop.cpp),
  // on this thread: that loop is not ours, and the scheduler we run is the only one current.
  runtime::scheduler::leave_after_fork();
  const std::string name = "worker " + std::to_string(args.index);
  set_process_title("echod: " + name);
  init_logging(name, args.cfg.log_level);

  // A master that dies without stopping us (kill -9) must not leave workers holding the port.
  prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
  if (getppid() != args.master) return exit_code::ok;  // it died before the line above

  // Ctrl-C reaches the whole process group: the master handles it and tells us. SIGHUP and
  // SIGUSR1 are the master's too.
  ignore_signals({SIGINT, SIGHUP, SIGUSR1, SIGPIPE});
  default_signals({SIGCHLD});
  signal_reader signals({SIGTERM, SIGQUIT});

  // Every component's options, once; the config is not read after this.
  const worker_options opts = make_worker_options(args.cfg, args.listen_fds, args.cpus);

  // Counters the master cannot see are still counted: the data path never checks for null.
  std::vector<stats::thread_counters> private_counters(args.counters == nullptr ? opts.pool.threads
                                                                                : 0);
  std::unique_ptr<io::reactor> loop;
  try {
    loop = io::make_epoll_reactor();
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return exit_code::cannot_start;
  }
  worker_process worker(args, opts, signals,
                        args.counters != nullptr ? args.counters : private_counters.data(),
                        std::move(loop));
  return worker.run();
}

}  // namespace echod::server
