// Starts a real program for an integration test and watches it: its stdout and stderr are
// collected by reader threads, a test can wait (with a timeout) for a line to appear, send it
// signals, and wait for its exit. A child still running when the object dies is SIGKILLed and
// reaped, so a failing test never leaves a server behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace echod::testing {

/// Absolute path of a built program, e.g. build_path("server/echod").
std::string build_path(const std::string& relative);
/// Absolute path of a source file, e.g. source_path("config/echod.json").
std::string source_path(const std::string& relative);

class child_process {
 public:
  /// Starts argv[0] (a path) with the given arguments; stdin is /dev/null. Throws on failure.
  explicit child_process(std::vector<std::string> argv);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;

  /// The exit as waitpid reports it, or nullopt if still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();

  /// Waits until stderr (or stdout) has a match for `pattern` (ECMAScript regex); returns the
  /// first match: [0] the whole match, then each group.
  std::optional<std::vector<std::string>> wait_for_stderr(const std::string& pattern,
                                                          std::chrono::milliseconds timeout);
  std::optional<std::vector<std::string>> wait_for_stdout(const std::string& pattern,
                                                          std::chrono::milliseconds timeout);
  std::string stderr_text() const;
  std::string stdout_text() const;

 private:
  struct stream_capture;
  std::optional<std::vector<std::string>> wait_for(stream_capture& s, const std::string& pattern,
                                                   std::chrono::milliseconds timeout);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::unique_ptr<stream_capture> out_;
  std::unique_ptr<stream_capture> err_;
};

/// "exited 0", "exited 3", "killed by SIGKILL" — for assertion messages.
std::string describe_status(int status);

}  // namespace echod::testing
