#include "server/exit_codes.hpp"

#include <string.h>
#include <sys/wait.h>

namespace echod::server {

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    std::string text = abbrev != nullptr ? std::string("killed by SIG") + abbrev
                                         : "killed by signal " + std::to_string(WTERMSIG(status));
    if (WCOREDUMP(status)) text += " (core dumped)";
    return text;
  }
  return "wait status " + std::to_string(status);
}

}  // namespace echod::server
