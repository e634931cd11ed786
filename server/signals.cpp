#include "server/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace echod::server {
namespace {

sigset_t set_of(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  return set;
}

void set_action(std::initializer_list<int> signals, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  for (int s : signals) sigaction(s, &sa, nullptr);
  const sigset_t set = set_of(signals);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace

void block_signals(std::initializer_list<int> signals) {
  const sigset_t set = set_of(signals);
  if (const int e = pthread_sigmask(SIG_BLOCK, &set, nullptr); e != 0) {
    throw std::system_error(e, std::generic_category(), "pthread_sigmask");
  }
}

signal_reader::signal_reader(std::initializer_list<int> signals) {
  block_signals(signals);
  const sigset_t set = set_of(signals);
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
}

signal_reader::~signal_reader() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<int> signal_reader::next() {
  signalfd_siginfo info;
  for (;;) {
    const ssize_t n = ::read(fd_, &info, sizeof info);
    if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
    if (n < 0 && errno == EINTR) continue;
    return std::nullopt;  // EAGAIN: nothing pending
  }
}

void ignore_signals(std::initializer_list<int> signals) { set_action(signals, SIG_IGN); }

void default_signals(std::initializer_list<int> signals) { set_action(signals, SIG_DFL); }

}  // namespace echod::server
