// echod's exit codes, in one place because scripts, the supervisor and the tests all rely on them.
// Also how a child's wait status reads in a log line.
#pragma once

#include <string>

namespace echod::server::exit_code {

inline constexpr int ok = 0;  ///< stopped on request (or --check-config, --print-config, --help)
/// A runtime failure: a listener could not be opened (bind), a worker could not be created (pipe
/// or fork failed max_start_attempts times), or a worker could not start and echod gave up
/// rather than respawn it in a loop.
inline constexpr int failure = 1;
/// Bad command line or config (including a backend or CPUs this machine does not have).
inline constexpr int usage = 2;
/// Workers only: the worker could not set up (a reactor or a thread could not be created).
/// The master does not respawn such a worker: it stops the others and exits with `failure`.
inline constexpr int cannot_start = 3;

}  // namespace echod::server::exit_code

namespace echod::server {

/// A waitpid() status as words, to follow "exited: ": "status 0", "status 3",
/// "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
std::string describe_wait_status(int status);

}  // namespace echod::server
