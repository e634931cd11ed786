// What the echod integration and fault tests share: start the real binary on an ephemeral port
// and learn the port from its log, temporary config files, find its workers and their threads in
// /proc, plain blocking loopback clients with timeouts on every call, and the reference transform
// (Python's bytes.upper()) replies are checked against.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "io/backend.hpp"

namespace echod::testing {

/// A config file in a fresh temporary directory, removed with the object.
class temp_config {
 public:
  explicit temp_config(const std::string& text);
  ~temp_config();
  temp_config(const temp_config&) = delete;
  temp_config& operator=(const temp_config&) = delete;
  /// Replaces the file atomically (write, then rename): a reload never reads half a file.
  void write(const std::string& text) const;
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

/// Python's bytes.upper(), byte by byte: the reference, deliberately not transform::upper_copy.
std::string python_upper(const std::string& in);
/// `n` pseudo-random bytes (all 256 values occur), reproducible from `seed`.
std::string random_bytes(std::size_t n, unsigned seed);

/// A running echod. The constructor starts it and waits (up to 10 s) for its first
/// "listening on 127.0.0.1:PORT" line; the destructor SIGKILLs it if it still runs.
class echod_process {
 public:
  /// `args` follow the binary: e.g. {"--set", "listen=127.0.0.1:0", "--set", "processes=2"}.
  /// `launcher`, when given, is a command that execs echod after it: e.g.
  /// {"/usr/bin/prlimit", "--nofile=256"} to start it under a low descriptor limit.
  /// `binary`, when given, is the echod to run instead of build/server/echod (a copy elsewhere).
  explicit echod_process(std::vector<std::string> args, bool wait_for_port = true,
                         std::vector<std::string> launcher = {}, std::string binary = {});

  child_process& proc() { return *proc_; }
  pid_t pid() const { return proc_->pid(); }
  int port() const { return port_; }
  std::string log() const { return proc_->stderr_text(); }
  /// The whole log of an echod that has exited: waits (up to 5 s) for its stderr to close.
  std::string final_log();

  /// Waits for `pattern` (ECMAScript regex) in the log; the match groups, or nullopt.
  std::optional<std::vector<std::string>> wait_log(
      const std::string& pattern, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// How many times `pattern` occurs in the log so far.
  std::size_t count_log(const std::string& pattern) const;

  /// The master's children (its workers), ascending, from /proc.
  std::vector<pid_t> workers() const;
  /// Waits until there are exactly `n` workers, every one ready to serve ("ready:" lines count).
  bool wait_workers(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Sends `sig` and waits for the exit; the waitpid status, or nullopt after `timeout`.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout);

 private:
  std::unique_ptr<child_process> proc_;
  int port_ = 0;
};

/// The common arguments: an ephemeral loopback port, `backend`, short shutdown timeout.
std::vector<std::string> base_args(io::backend_kind backend);

/// Children of `pid` (from /proc/*/stat), ascending.
std::vector<pid_t> children_of(pid_t pid);
/// One thread of a process, from /proc/PID/task/TID.
struct thread_info {
  std::string name;          ///< comm
  std::string cpus_allowed;  ///< Cpus_allowed_list, e.g. "0-3" or "1"
};
/// Every thread of `pid`.
std::vector<thread_info> threads_of(pid_t pid);
/// /proc/PID/cmdline with NULs as spaces, trailing ones dropped.
std::string command_line_of(pid_t pid);
/// Which process holds the server side of the loopback connection whose client end is the
/// socket `client_fd` (server listening on `server_port`), or -1.
pid_t server_side_owner(int client_fd, int server_port, const std::vector<pid_t>& candidates);

/// The service manager's end of NOTIFY_SOCKET: a bound unix datagram socket in a fresh
/// directory, removed with the object.
class notify_socket {
 public:
  notify_socket();
  ~notify_socket();
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  bool bound() const { return bound_; }
  /// Runs echod with NOTIFY_SOCKET set (env execs: echod keeps the launcher's PID).
  std::vector<std::string> launcher() const { return {"/usr/bin/env", "NOTIFY_SOCKET=" + path_}; }
  /// The next datagram, or nullopt after `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout);

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

/// A blocking loopback TCP client; every call has a timeout; failures are reported, not thrown.
class client {
 public:
  client() = default;
  explicit client(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~client();
  client(client&& o) noexcept;
  client& operator=(client&& o) noexcept;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  /// Sends everything: false on an error or timeout.
  bool send_all(const std::string& data);
  /// Reads exactly `n` bytes; fewer only on EOF, error or timeout.
  std::string recv_exact(std::size_t n);
  /// Reads until EOF; `clean` says whether it ended in EOF (not an error or timeout).
  std::string recv_until_eof(bool* clean = nullptr);
  /// Waits up to `timeout` for a byte: true if one (or EOF) arrived.
  bool readable_within(std::chrono::milliseconds timeout);
  void shutdown_write();
  void set_timeout(std::chrono::milliseconds timeout);
  void close();
  /// Closes with RST instead of FIN.
  void reset();
  /// Sends `msg` and checks the reply is upper(msg) (or msg itself when !upper).
  bool round_trip(const std::string& msg, bool upper = true);

 private:
  int fd_ = -1;
};

}  // namespace echod::testing
