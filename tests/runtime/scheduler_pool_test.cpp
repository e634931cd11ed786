// scheduler_pool's start-up contract when the operating system refuses a thread: the pool throws
// and leaves nothing running (before the fix, the threads already started were still joinable
// when the constructor unwound, and std::thread's destructor called std::terminate).
#include "runtime/scheduler_pool.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "fake_poller.hpp"

namespace echod::runtime {
namespace {

using namespace std::chrono_literals;

#if !defined(__SANITIZE_ADDRESS__)
// The calling process's virtual size in bytes, from /proc/self/status ("VmSize: 123 kB").
std::size_t virtual_size() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  }
  return 0;
}

// Exit codes of the forked child that runs the pool.
constexpr int threw_and_cleaned_up = 0;
constexpr int limit_did_not_bite = 10;
constexpr int coroutines_left_running = 11;
#endif

TEST(scheduler_pool_test, a_thread_that_cannot_be_created_stops_and_joins_the_started_ones) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "needs RLIMIT_AS, which AddressSanitizer's shadow mappings do not fit in";
#else
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Room for a few 8 MiB thread stacks, not for 64 of them: thread creation fails part-way.
    const rlim_t limit = virtual_size() + (48u << 20);
    const rlimit rl{limit, limit};
    setrlimit(RLIMIT_AS, &rl);
    std::atomic<int> started{0};
    std::atomic<int> cancelled{0};
    scheduler_pool::options opts;
    opts.threads = 64;
    try {
      scheduler_pool pool(
          opts, [](std::size_t) { return std::make_unique<testing::fake_poller>(); },
          [&](scheduler& s, std::size_t) {
            s.spawn([&] {
              ++started;
              if (this_coroutine::sleep_for(1h) == wake_reason::cancelled) ++cancelled;
            });
          });
      _exit(limit_did_not_bite);
    } catch (const std::exception&) {
      // Every thread that did start has been cancelled and joined by the time we get here.
      _exit(started.load() == cancelled.load() ? threw_and_cleaned_up : coroutines_left_running);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status)
                                 << " (SIGABRT: std::terminate from a joinable std::thread)";
  if (WEXITSTATUS(status) == limit_did_not_bite) GTEST_SKIP() << "RLIMIT_AS did not bite here";
  EXPECT_EQ(WEXITSTATUS(status), threw_and_cleaned_up);
#endif
}

}  // namespace
}  // namespace echod::runtime
