// Why a parked coroutine woke up: the one way to wait (see scheduler::park) reports this.
#pragma once

namespace echod::runtime {

enum class wake_reason {
  woken,      ///< scheduler::wake(): the event it waited for happened
  timed_out,  ///< its deadline passed first
  cancelled,  ///< scheduler::cancel() (or the scheduler is shutting down)
};

}  // namespace echod::runtime
