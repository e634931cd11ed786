// The master's PID file (config field pid_file), for supervisors that follow a PID rather than
// sd_notify's MAINPID=. Written atomically (a temporary file in the same directory, then rename),
// so a reader never sees a half-written number; removed when the master that wrote it exits. It
// does not lock: a second echod with the same pid_file simply rewrites it.
#pragma once

#include <sys/types.h>

#include <string>

#include "config/result.hpp"

namespace echod::server {

class pid_file {
 public:
  pid_file() = default;
  /// Writes this process's PID and a newline to `path`. On failure the reason names the field,
  /// the file and the call ("pid_file /run/echod.pid: open /run/echod.pid.tmp.42: Permission
  /// denied").
  static config::result<pid_file> write(const std::string& path);
  /// Removes the file, if this process wrote it and it still holds this PID: a forked worker
  /// never removes it, nor does an old master once a newer one has rewritten it.
  ~pid_file();
  pid_file(pid_file&& o) noexcept;
  pid_file& operator=(pid_file&& o) noexcept;
  pid_file(const pid_file&) = delete;
  pid_file& operator=(const pid_file&) = delete;

  const std::string& path() const { return path_; }

 private:
  void remove();

  std::string path_;  // "": nothing written
  pid_t owner_ = -1;
};

}  // namespace echod::server
