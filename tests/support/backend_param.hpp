// Runs a test body over every reactor backend: TEST_P(backend_test, ...) runs once with epoll and
// once with io_uring (skipped, visibly, where io_uring cannot be set up).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "io/backend.hpp"
#include "runtime/scheduler.hpp"

namespace echod::testing {

class backend_test : public ::testing::TestWithParam<io::backend_kind> {
 protected:
  void SetUp() override {
    if (GetParam() == io::backend_kind::io_uring && !io::probe_io_uring().usable) {
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
