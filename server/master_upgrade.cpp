// The binary upgrade (SIGUSR2), nginx's way, with both ends in one binary:
//   old master: on SIGUSR2 it starts the binary at its own path (own_command, master_handoff.hpp)
//     with the same arguments, handing over its listening sockets, the admin socket and a ready
//     pipe (ECHOD_UPGRADE_FDS). The new master is its child, so reap() hears if it exits.
//   new master: adopts those sockets instead of binding (take_over), starts its workers, and once
//     they all serve writes the pid_file, tells the service manager READY=1 with MAINPID= (which
//     needs NotifyAccess=all: it is not the PID the manager started), then writes the byte.
//   old master: on the byte it retires every generation (SIGQUIT: stop accepting, serve open
//     connections until they close or shutdown_timeout passes, then answer every byte read and
//     FIN), stops serving the admin socket, goes silent towards the manager, and exits 0 once
//     its last worker has ended. The listening sockets never close: clients waiting in a
//     backlog are accepted by the new workers.
// If the new master exits before it is ready, or is not ready within upgrade_timeout (then it is
// killed; its workers stop by themselves), the old master logs why and serves on. One upgrade
// at a time: a SIGUSR2 while one is in flight is refused with a log line.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/exit_codes.hpp"
#include "server/master_state.hpp"

extern char** environ;

namespace echod::server::master_detail {
namespace {

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// In the child, between fork and execve: async-signal-safe calls only (everything was built
// before the fork). The passed descriptors lose FD_CLOEXEC; every other one above stderr gets it
// (each is opened with it already; this makes sure). The new binary starts with no signal
// blocked, as any process does, not with the master's mask.
[[noreturn]] void exec_new_master(const char* path, char* const* argv, char* const* envp,
                                  const std::vector<int>& keep) {
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);  // best effort: older kernels lack the flag
  for (const int fd : keep) ::fcntl(fd, F_SETFD, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(path, argv, envp);
  ::_exit(127);
}

// Forks and execs `self` with `fds` inherited and named in ECHOD_UPGRADE_FDS, the rest of the
// environment as it is. The child's PID, or -1 with errno set.
pid_t start_new_master(const own_command& self, const std::vector<handoff_fd>& fds) {
  std::vector<int> keep;
  for (const auto& f : fds) keep.push_back(f.fd);
  const std::string prefix = std::string(upgrade_fds_variable) + "=";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with(prefix)) env.emplace_back(*e);
  }
  env.push_back(prefix + encode_handoff(fds));
  std::vector<std::string> args = self.args;
  const auto argv = c_strings(args);
  const auto envp = c_strings(env);
  const pid_t pid = ::fork();
  if (pid == 0) exec_new_master(self.path.c_str(), argv.data(), envp.data(), keep);
  return pid;
}

}  // namespace

void master::upgrade() {
  if (stopping_ || handed_over_) {
    spdlog::warn("SIGUSR2 ignored: this master is stopping");
    return;
  }
  if (upgrade_.pid > 0) {
    spdlog::warn("SIGUSR2 ignored: an upgrade is in flight (new master pid {})", upgrade_.pid);
    return;
  }
  const std::string& path = self_.path;
  spdlog::info("upgrade (SIGUSR2): starting {}", path);
  if (::access(path.c_str(), X_OK) != 0) {
    return upgrade_failed("cannot run " + path + ": " + std::strerror(errno));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return upgrade_failed(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<handoff_fd> fds;
  for (const auto& [key, fd] : listeners_.keyed_fds()) fds.push_back({fd, "listen:" + key});
  if (admin_.listen_fd() >= 0) fds.push_back({admin_.listen_fd(), "admin:" + admin_spec_});
  fds.push_back({pipe_fds[1], "ready"});
  const pid_t pid = start_new_master(self_, fds);
  ::close(pipe_fds[1]);
  if (pid < 0) {
    const int e = errno;
    ::close(pipe_fds[0]);
    return upgrade_failed(std::string("fork: ") + std::strerror(e));
  }
  const generation* serving = serving_generation();
  upgrade_ = upgrade_state{};
  upgrade_.pid = pid;
  upgrade_.timeout =
      serving != nullptr ? serving->cfg.upgrade_timeout : config::server_config{}.upgrade_timeout;
  upgrade_.deadline = clock::now() + upgrade_.timeout;
  upgrade_.ready_fd = pipe_fds[0];
  watch_upgrade();
  spdlog::info("upgrade: new master started (pid {}); waiting up to {} s for its workers", pid,
               config::to_seconds(upgrade_.timeout));
}

void master::watch_upgrade() {
  upgrade_.ready_waiter = watch_pipe(upgrade_.ready_fd, [this](runtime::coroutine* self) {
    if (upgrade_.ready_waiter == self) on_upgrade_ready();
  });
}

void master::on_upgrade_ready() {
  upgrade_.ready_waiter = nullptr;  // it has woken: this is its event
  const int got = read_ready_byte(upgrade_.ready_fd);
  if (got < 0) return watch_upgrade();
  close_pipe(upgrade_.ready_fd, upgrade_.ready_waiter);
  // Closed unready: its exit, or the deadline, tells the rest.
  if (got == 1) hand_over();
}

void master::hand_over() {
  spdlog::info(
      "upgrade complete: the new master (pid {}) serves; retiring this master's workers, then "
      "exiting",
      upgrade_.pid);
  handed_over_ = true;
  upgrade_.deadline = never;
  notify_.hand_over();
  admin_.hand_over();
  pid_file_ = {};  // removed only if the new master has not rewritten it (pid_file.hpp)
  for (auto& g : gens_) {
    g.admin.close();
    g.pid = {};
    if (g.state != gen_state::retiring) retire(g);
  }
}

void master::give_up_upgrade() {
  upgrade_failed(
      fmt::format("the new master (pid {}) was not ready within {} s (upgrade_timeout); "
                  "killing it",
                  upgrade_.pid, config::to_seconds(upgrade_.timeout)));
  ::kill(upgrade_.pid, SIGKILL);
  upgrade_.given_up = true;
  upgrade_.deadline = never;
  close_pipe(upgrade_.ready_fd, upgrade_.ready_waiter);
}

void master::on_upgrade_exit(int status) {
  const pid_t pid = std::exchange(upgrade_.pid, -1);
  close_pipe(upgrade_.ready_fd, upgrade_.ready_waiter);
  const std::string how = describe_wait_status(status);
  if (handed_over_) {
    spdlog::error("the new master (pid {}) exited: {}", pid, how);
  } else if (upgrade_.given_up) {
    spdlog::info("upgrade: the new master (pid {}) is gone: {}", pid, how);
  } else {
    upgrade_failed("the new master (pid " + std::to_string(pid) +
                   ") exited before it was ready: " + how + " (its own log, above, says why)");
  }
  upgrade_.deadline = never;
}

void master::upgrade_failed(const std::string& why) {
  spdlog::error("upgrade failed: {}; this master keeps serving", why);
}

void master::all_ready(generation& g) {
  if (takeover_fd_ < 0) {
    notify_.ready(snapshot());  // READY=1 the first time; after a respawn, STATUS=
    return;
  }
  // Started by an upgrade: the pid_file first (a supervisor that follows it must never find a
  // PID that is not serving), then the manager, then the old master, which then retires.
  if (!g.cfg.pid_file.empty()) {
    auto written = pid_file::write(g.cfg.pid_file);
    if (!written) {
      spdlog::error("{}", written.error());
      ::close(std::exchange(takeover_fd_, -1));
      return begin_stop(exit_code::failure, "cannot write the pid_file");
    }
    pid_file_ = std::move(*written);
  }
  notify_.ready(snapshot());
  const char byte = 'R';
  const bool told = ::write(takeover_fd_, &byte, 1) == 1;
  const int e = errno;
  ::close(std::exchange(takeover_fd_, -1));
  if (told) {
    spdlog::info("upgrade: serving; the old master (pid {}) retires its workers", takeover_from_);
  } else {
    spdlog::warn("upgrade: serving, but the old master (pid {}) could not be told: {}",
                 takeover_from_, std::strerror(e));
  }
}

}  // namespace echod::server::master_detail
