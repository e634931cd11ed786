#include "child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> under -fsanitize.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop

namespace echod::testing {

struct child_process::stream_capture {
  mutable std::mutex lock;
  std::condition_variable changed;
  std::string text;
  bool closed = false;
  std::thread reader;

  explicit stream_capture(int fd) {
    reader = std::thread([this, fd] {
      char buf[4096];
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard guard(lock);
        if (n <= 0) {
          closed = true;
          changed.notify_all();
          break;
        }
        text.append(buf, static_cast<std::size_t>(n));
        changed.notify_all();
      }
      ::close(fd);
    });
  }
  ~stream_capture() {
    if (reader.joinable()) reader.join();
  }
};

std::string build_path(const std::string& relative) {
  return std::string(ECHOD_BUILD_ROOT) + "/" + relative;
}

std::string source_path(const std::string& relative) {
  return std::string(ECHOD_SOURCE_ROOT) + "/" + relative;
}

child_process::child_process(std::vector<std::string> argv) {
  int out[2];
  int err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  const pid_t test_pid = ::getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // A test process that dies without running destructors (a sanitizer's exit, meson's SIGKILL
    // after its timeout) must not leave an echod master behind: one once respawned workers every
    // 5 s into the next run's sanitizer reports. The kernel kills the child with the thread that
    // forked it (tests start children on their main thread), and echod's workers follow their
    // master by their own PR_SET_PDEATHSIG.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != test_pid) _exit(127);  // the test died before the prctl took hold
    const int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    const std::string msg = "exec " + argv[0] + ": " + strerror(errno) + "\n";
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, msg.data(), msg.size());
    _exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  out_ = std::make_unique<stream_capture>(out[0]);
  err_ = std::make_unique<stream_capture>(err[0]);
}

child_process::~child_process() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  // Readers end when every holder of the pipes (the child and its own children) has gone.
  out_.reset();
  err_.reset();
}

void child_process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool child_process::running() {
  if (status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

std::optional<std::vector<std::string>> child_process::wait_for(stream_capture& s,
                                                                const std::string& pattern,
                                                                std::chrono::milliseconds timeout) {
  const std::regex re(pattern);
  std::unique_lock guard(s.lock);
  const auto until = std::chrono::steady_clock::now() + timeout;
  auto search = [&]() -> std::optional<std::vector<std::string>> {
    std::smatch m;
    if (!std::regex_search(s.text, m, re)) return std::nullopt;
    std::vector<std::string> groups;
    for (const auto& g : m) groups.push_back(g.str());
    return groups;
  };
  for (;;) {
    if (auto found = search()) return found;
    if (s.closed) return std::nullopt;
    if (s.changed.wait_until(guard, until) == std::cv_status::timeout) return search();
  }
}

std::optional<std::vector<std::string>> child_process::wait_for_stderr(
    const std::string& pattern, std::chrono::milliseconds timeout) {
  return wait_for(*err_, pattern, timeout);
}

std::optional<std::vector<std::string>> child_process::wait_for_stdout(
    const std::string& pattern, std::chrono::milliseconds timeout) {
  return wait_for(*out_, pattern, timeout);
}

std::string child_process::stderr_text() const {
  std::lock_guard guard(err_->lock);
  return err_->text;
}

std::string child_process::stdout_text() const {
  std::lock_guard guard(out_->lock);
  return out_->text;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("killed by SIG") + sigabbrev_np(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

}  // namespace echod::testing
