#include "server/pid_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

namespace echod::server {

config::result<pid_file> pid_file::write(const std::string& path) {
  const pid_t pid = ::getpid();
  const std::string text = std::to_string(pid) + "\n";
  const std::string tmp = path + ".tmp." + std::to_string(pid);
  const auto failed = [&](const std::string& call, int e) {
    ::unlink(tmp.c_str());
    return config::failure{"pid_file " + path + ": " + call + ": " + std::strerror(e)};
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("open " + tmp, errno);
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int write_errno = n < 0 ? errno : EIO;  // a short write of a few bytes: the disk is full
  if (n != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return failed("write " + tmp, write_errno);
  }
  if (::close(fd) != 0) return failed("close " + tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("rename to " + path, errno);
  pid_file out;
  out.path_ = path;
  out.owner_ = pid;
  return out;
}

pid_file::~pid_file() { remove(); }

pid_file::pid_file(pid_file&& o) noexcept
    : path_(std::exchange(o.path_, {})), owner_(std::exchange(o.owner_, -1)) {}

pid_file& pid_file::operator=(pid_file&& o) noexcept {
  if (this != &o) {
    remove();
    path_ = std::exchange(o.path_, {});
    owner_ = std::exchange(o.owner_, -1);
  }
  return *this;
}

void pid_file::remove() {
  if (path_.empty() || owner_ != ::getpid()) return;
  std::ifstream in(path_);
  pid_t holds = -1;
  if (in >> holds && holds == owner_) ::unlink(path_.c_str());
  path_.clear();
}

}  // namespace echod::server
