// Runs a test body over every reactor backend: TEST_P(backend_test, ...) runs once with epoll and
// once with io_uring (skipped, visibly, where io_uring cannot be set up).
// With ECHOD_REQUIRE_IO_URING=1 (CI sets it) an io_uring case fails instead of skipping whenever
// the kernel accepts io_uring_setup: a probe that wrongly rejects a working kernel would otherwise
// turn half the suite into silent skips.
#pragma once

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "io/backend.hpp"
#include "runtime/scheduler.hpp"

namespace echod::testing {

/// Whether this kernel (and any seccomp filter or sysctl above it) lets a process make a ring.
inline bool kernel_accepts_io_uring_setup() {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 2, &params);
  if (fd < 0) return false;
  ::close(static_cast<int>(fd));
  return true;
}

/// Whether an io_uring case may skip here: only where the kernel refuses io_uring, if the
/// environment requires io_uring (ECHOD_REQUIRE_IO_URING=1).
inline bool io_uring_skip_allowed() {
  const char* required = std::getenv("ECHOD_REQUIRE_IO_URING");
  return required == nullptr || std::string(required) != "1" || !kernel_accepts_io_uring_setup();
}

class backend_test : public ::testing::TestWithParam<io::backend_kind> {
 protected:
  void SetUp() override {
    if (GetParam() == io::backend_kind::io_uring && !io::probe_io_uring().usable) {
      if (!io_uring_skip_allowed()) {
        FAIL() << "ECHOD_REQUIRE_IO_URING=1 and the kernel accepts io_uring_setup, but echod's "
                  "probe rejects io_uring: "
               << io::probe_io_uring().reason;
      }
      GTEST_SKIP() << "io_uring unavailable: " << io::probe_io_uring().reason;
    }
  }

  std::unique_ptr<runtime::scheduler> make_scheduler(runtime::scheduler::options opts = {}) {
    return std::make_unique<runtime::scheduler>(io::make_reactor(GetParam()), std::move(opts));
  }

  /// Runs `body` as the first coroutine of a fresh scheduler, until every coroutine finished.
  void run(std::function<void()> body, runtime::scheduler::options opts = {}) {
    auto sched = make_scheduler(std::move(opts));
    sched->spawn(std::move(body));
    sched->run();
  }
};

inline std::string backend_param_name(const ::testing::TestParamInfo<io::backend_kind>& info) {
  return io::backend_name(info.param);
}

}  // namespace echod::testing

#define ECHOD_INSTANTIATE_BACKENDS(suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(                                                                     \
      backends, suite,                                                                          \
      ::testing::Values(::echod::io::backend_kind::epoll, ::echod::io::backend_kind::io_uring), \
      ::echod::testing::backend_param_name)
