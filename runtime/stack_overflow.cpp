// A SIGSEGV/SIGBUS handler on an alternate stack: if the fault address lies in the guard page below
// the coroutine stack this thread is running on (or in the probe range just below it: with
// -fstack-clash-protection large frames touch every page, so they hit the guard first), it writes
// one line naming the stack size, then lets the fault kill the process as it would have anyway.
#include "runtime/stack_overflow.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

namespace echod::runtime {
namespace {

thread_local stack_span current_stack;

struct alternate_stack {
  void* memory = nullptr;
  std::size_t size = 0;
  alternate_stack() {
    size = 64 * 1024;
    memory = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      memory = nullptr;
      return;
    }
    stack_t ss{};
    ss.ss_sp = memory;
    ss.ss_size = size;
    sigaltstack(&ss, nullptr);
  }
  ~alternate_stack() {
    if (memory == nullptr) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(memory, size);
  }
};

// Async-signal-safe: no stdio, no allocation.
void write_all(const char* s, std::size_t n) {
  while (n > 0) {
    const ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<std::size_t>(w);
  }
}

void write_str(const char* s) { write_all(s, std::strlen(s)); }

void write_number(std::size_t v) {
  char digits[24];
  std::size_t i = sizeof digits;
  do {
    digits[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  write_all(digits + i, sizeof digits - i);
}

void on_fault(int sig, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  const auto base = reinterpret_cast<std::uintptr_t>(current_stack.base);
  const std::uintptr_t guard = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  if (base != 0 && addr < base && addr + guard >= base) {
    write_str("echod: coroutine stack overflow: a coroutine ran past the end of its ");
    write_number(current_stack.size);
    write_str("-byte stack (raise \"stack_size\" in the config)\n");
  }
  // Back to the default action; returning re-executes the faulting access, which now kills us
  // with the original signal (and a core dump where enabled).
  signal(sig, SIG_DFL);
}

}  // namespace

void install_stack_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
  });
  thread_local alternate_stack altstack;
  (void)altstack;
}

void set_current_coroutine_stack(const stack_span& stack) { current_stack = stack; }

}  // namespace echod::runtime
