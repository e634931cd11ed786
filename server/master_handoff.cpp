#include "server/master_handoff.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include "server/admin_server.hpp"

namespace echod::server {

own_command capture_own_command(int argc, char** argv) {
  own_command out;
  for (int i = 0; i < argc; ++i) out.args.emplace_back(argv[i]);
  const std::string first = argc > 0 ? argv[0] : "";
  if (first.find('/') != std::string::npos) {
    char cwd[PATH_MAX];
    const std::string path = first.front() == '/' || ::getcwd(cwd, sizeof cwd) == nullptr
                                 ? first
                                 : std::string(cwd) + "/" + first;
    out.path = std::filesystem::path(path).lexically_normal().string();  // "./" goes, links stay
    return out;
  }
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  out.path = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : first;
  return out;
}

std::string encode_handoff(const std::vector<handoff_fd>& fds) {
  std::string out;
  for (const auto& f : fds) {
    if (!out.empty()) out += ',';
    out += std::to_string(f.fd) + "=" + f.name;
  }
  return out;
}

namespace {

struct named_socket {
  std::string name;  // after "listen:" or "admin:"
  io::listener socket;
};

}  // namespace

config::result<takeover> take_over(const config::server_config& cfg, listener_set& listeners) {
  takeover out;
  const char* value = std::getenv(upgrade_fds_variable);
  if (value == nullptr) return out;
  const std::string text = value;
  ::unsetenv(upgrade_fds_variable);
  out.active = true;
  out.from = ::getppid();

  // Every socket is owned from here on, so each is closed on an error (the ready pipe is not:
  // on an error this process exits at once, and the old master sees that).
  std::vector<named_socket> listens;
  named_socket admin;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find(',', at), text.size());
    const std::string entry = text.substr(at, end - at);
    at = end + 1;
    const auto fail = [&](const std::string& why) {
      return config::failure{std::string(upgrade_fds_variable) + ": " + entry + ": " + why};
    };
    const std::size_t eq = entry.find('=');
    int fd = -1;
    const auto [ptr, ec] =
        std::from_chars(entry.data(), entry.data() + std::min(eq, entry.size()), fd);
    if (eq == std::string::npos || ec != std::errc{} || ptr != entry.data() + eq || fd < 3) {
      return fail("expected FD=NAME with FD 3 or more");
    }
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return fail(std::strerror(errno));
    const std::string name = entry.substr(eq + 1);
    if (name == "ready") {
      out.ready_fd = fd;
      continue;
    }
    const bool is_listen = name.starts_with("listen:");
    if (!is_listen && !name.starts_with("admin:")) {
      return fail("unknown name (expected listen:KEY, admin:SPEC or ready)");
    }
    named_socket s{name.substr(name.find(':') + 1), io::listener(fd)};
    if (sd_is_socket_inet(fd, AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0) {
      return fail("not a listening TCP socket");
    }
    if (is_listen) {
      listens.push_back(std::move(s));
    } else {
      admin = std::move(s);
    }
  }
  if (out.ready_fd < 0)
    return config::failure{std::string(upgrade_fds_variable) + ": no ready pipe"};

  const std::string from = " (from the old master, pid " + std::to_string(out.from) + ")";
  const auto keys = listener_set::keys_of(cfg);
  for (auto& s : listens) {
    const std::string bound = s.socket.local_address().to_string();
    if (std::find(keys.begin(), keys.end(), s.name) == keys.end()) {
      spdlog::info("upgrade: {} is no longer a listen address: closing the inherited socket",
                   bound);
      continue;  // closed with `listens`
    }
    out.adopted.push_back(bound + from);
    listeners.adopt(s.name, std::move(s.socket));
  }
  if (admin.socket.valid()) {
    if (admin_server::same_address(admin.name, cfg.admin)) {
      out.admin = std::move(admin.socket);
    } else {
      spdlog::info("upgrade: the admin endpoint is no longer {}: closing the inherited socket",
                   admin.name);
    }
  }
  return out;
}

}  // namespace echod::server
