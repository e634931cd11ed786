#include "server/worker.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "runtime/scheduler_pool.hpp"
#include "server/exit_codes.hpp"
#include "server/logging.hpp"
#include "server/process_title.hpp"
#include "server/services.hpp"
#include "server/signals.hpp"
#include "server/worker_thread.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;
using runtime::clock;

// A thread that has neither started nor failed by then is stuck (it only creates a reactor).
constexpr auto startup_limit = 10s;

// Ending (shutdown_timeout passed): how long connections get to answer what they have read and
// end with FIN before the rest is cancelled (a reset). It must stay well below the master's
// stop_margin (1 s), after which it kills the worker.
constexpr auto ending_grace = 500ms;

// The scheduler threads report here whether they started; the main thread waits for all of them.
class startup_gate {
 public:
  explicit startup_gate(std::size_t threads) : threads_(threads) {}

  void started() {
    std::lock_guard lock(m_);
    ++started_;
    cv_.notify_all();
  }
  void failed(std::string why) {
    std::lock_guard lock(m_);
    failures_.push_back(std::move(why));
    cv_.notify_all();
  }
  enum class outcome { started, failed, stuck };
  /// Waits until every thread started, one failed, or startup_limit passed; `failures` says why.
  outcome wait(std::vector<std::string>& failures) {
    std::unique_lock lock(m_);
    const bool settled = cv_.wait_for(lock, startup_limit,
                                      [&] { return !failures_.empty() || started_ == threads_; });
    failures = failures_;
    if (!failures.empty()) return outcome::failed;
    if (!settled) {
      failures.push_back("threads did not start within 10 s");
      return outcome::stuck;
    }
    return outcome::started;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t threads_;
  std::size_t started_ = 0;
  std::vector<std::string> failures_;
};

int poll_timeout_ms(clock::time_point until) {
  if (until == clock::time_point::max()) return -1;
  const auto left = until - clock::now();
  if (left <= clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// One worker process once its signals and plan are set up: starts the scheduler threads, then
// runs the main thread's loop (signals, deadlines, threads ending) until every thread has ended.
class worker_process {
 public:
  worker_process(const worker_args& args, const worker_plan& plan, signal_reader& signals,
                 stats::thread_counters* counters)
      : args_(args),
        plan_(plan),
        signals_(signals),
        counters_(counters),
        threads_(config::resolved_threads(plan.cfg)),
        gate_(threads_) {}
  ~worker_process() {
    if (done_fd_ >= 0) ::close(done_fd_);
  }

  /// Starts every thread; on failure logs why and returns false (nothing was accepted).
  bool start();
  /// Tells the master we serve, then serves until told to end; returns the exit code.
  int serve();

 private:
  void on_each_thread(void (worker_thread::*fn)());
  void begin_retire();
  void begin_closing(clock::duration grace, const char* why);
  void begin_ending();
  std::uint64_t open_connections() const;

  const worker_args& args_;
  const worker_plan& plan_;
  signal_reader& signals_;
  stats::thread_counters* counters_;
  const unsigned threads_;
  startup_gate gate_;
  int done_fd_ = -1;  // each thread adds 1 when its last coroutine has ended
  std::vector<std::unique_ptr<worker_thread>> per_thread_;
  std::unique_ptr<runtime::scheduler_pool> pool_;

  enum class phase { serving, retiring, closing, ending };
  phase phase_ = phase::serving;
  clock::time_point retire_end_ = clock::time_point::max();
  clock::time_point force_at_ = clock::time_point::max();
};

bool worker_process::start() {
  done_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (done_fd_ < 0) {
    spdlog::error("cannot start: eventfd: {}", std::strerror(errno));
    return false;
  }
  for (unsigned i = 0; i < threads_; ++i) {
    per_thread_.push_back(std::make_unique<worker_thread>(plan_, counters_[i], [fd = done_fd_] {
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t w = ::write(fd, &one, sizeof one);
    }));
  }

  const config::server_config& cfg = plan_.cfg;
  runtime::scheduler_pool::options opts;
  opts.threads = threads_;
  opts.thread_name = "echod-sched";
  opts.cpus = args_.cpus;
  opts.per_thread.stack_size = cfg.stack_size;
  opts.per_thread.max_cached_stacks =
      std::min<std::size_t>(cfg.coroutines + plan_.listen_fds.size() + 1, 1024);
  opts.per_thread.on_uncaught_exception = [](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("a coroutine ended with an exception: {}", ex.what());
    } catch (...) {
      spdlog::error("a coroutine ended with a non-standard exception");
    }
  };
  const io::reactor_options reactor_opts{
      .ring_entries = cfg.io_uring_entries,
      .buffer_size = cfg.buffer_size,
      // Enough to absorb bursts without going to malloc; spare buffers beyond it are freed.
      .cached_buffers = std::min<std::size_t>(cfg.coroutines, 64),
      .multishot = cfg.io_uring_multishot,
      .ring_buffers = cfg.io_uring_buffers,
      .ring_buffer_size = cfg.io_uring_buffer_size,
  };
  try {
    pool_ = std::make_unique<runtime::scheduler_pool>(
        opts,
        [this, reactor_opts](std::size_t i) -> std::unique_ptr<runtime::poller> {
          try {
            io::reactor_options thread_opts = reactor_opts;
            thread_opts.counters = &counters_[i].io;
            return io::make_reactor(args_.backend, thread_opts);
          } catch (const std::exception& e) {
            gate_.failed("thread " + std::to_string(i) + ": " + e.what());
            throw;
          }
        },
        [this](runtime::scheduler& sched, std::size_t i) {
          try {
            per_thread_[i]->start(sched);
            gate_.started();
          } catch (const std::exception& e) {
            gate_.failed("thread " + std::to_string(i) + ": " + e.what());
            throw;
          }
        });
  } catch (const std::exception& e) {
    spdlog::error("cannot start: cannot create a scheduler thread: {}", e.what());
    return false;
  }

  std::vector<std::string> failures;
  const auto outcome = gate_.wait(failures);
  if (outcome == startup_gate::outcome::started) return true;
  for (const auto& f : failures) spdlog::error("cannot start: {}", f);
  // A stuck thread would hang join(): leave at once. No thread has accepted anything yet.
  if (outcome == startup_gate::outcome::stuck) std::_Exit(exit_code::cannot_start);
  pool_->stop();
  pool_->join();
  return false;
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

int worker_process::serve() {
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
      io::backend_name(args_.backend), config::name_of(plan_.cfg.service), plan_.cfg.coroutines);

  std::uint64_t threads_done = 0;
  pollfd fds[2] = {{signals_.fd(), POLLIN, 0}, {done_fd_, POLLIN, 0}};
  while (threads_done < threads_) {
    if (::poll(fds, 2, poll_timeout_ms(std::min(retire_end_, force_at_))) < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      break;
    }
    while (const auto sig = signals_.next()) {
      if (*sig == SIGTERM && (phase_ == phase::serving || phase_ == phase::retiring)) {
        begin_closing(plan_.cfg.shutdown_timeout, "stop");
      } else if (*sig == SIGQUIT && phase_ == phase::serving) {
        begin_retire();
      }
    }
    std::uint64_t ended = 0;
    if (::read(done_fd_, &ended, sizeof ended) == static_cast<ssize_t>(sizeof ended)) {
      threads_done += ended;
    }
    const auto now = clock::now();
    if (phase_ == phase::retiring && now >= retire_end_) {
      begin_closing(retire_closing_grace, "retire: shutdown_timeout passed");
    }
    if (phase_ == phase::closing && now >= force_at_) {
      begin_ending();
    } else if (phase_ == phase::ending && now >= force_at_) {
      const std::uint64_t open = open_connections();
      spdlog::warn("stop: forcing {} connection{} closed", open, open == 1 ? "" : "s");
      pool_->stop();  // cancels every coroutine: reads and writes in progress end with ECANCELED
      force_at_ = clock::time_point::max();
    }
  }
  pool_->join();
  if (phase_ == phase::serving) {
    spdlog::error("every scheduler thread ended while serving; exiting");
    return exit_code::failure;
  }
  return exit_code::ok;
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
      config::to_seconds(plan_.cfg.shutdown_timeout));
  phase_ = phase::retiring;
  retire_end_ = clock::now() + plan_.cfg.shutdown_timeout;
}

void worker_process::begin_closing(clock::duration grace, const char* why) {
  const std::uint64_t open = open_connections();
  on_each_thread(&worker_thread::begin_closing);
  spdlog::info("{}: closing {} connection{} (within {} ms)", why, open, open == 1 ? "" : "s",
               std::chrono::duration_cast<std::chrono::milliseconds>(grace).count());
  phase_ = phase::closing;
  retire_end_ = clock::time_point::max();
  force_at_ = clock::now() + grace;
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
  force_at_ = clock::now() + ending_grace;
}

}  // namespace

int run_worker(const worker_args& args) {
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

  worker_plan plan;
  plan.cfg = args.cfg;
  plan.svc = &find_service(args.cfg.service);
  plan.listen_fds = args.listen_fds;

  // Counters the master cannot see are still counted: the data path never checks for null.
  std::vector<stats::thread_counters> private_counters(
      args.counters == nullptr ? config::resolved_threads(args.cfg) : 0);
  worker_process worker(args, plan, signals,
                        args.counters != nullptr ? args.counters : private_counters.data());
  if (!worker.start()) return exit_code::cannot_start;
  return worker.serve();
}

}  // namespace echod::server
