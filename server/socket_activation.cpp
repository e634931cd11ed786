#include "server/socket_activation.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <systemd/sd-daemon.h>

#include "io/address.hpp"

namespace echod::server {

config::result<std::vector<std::string>> adopt_inherited_listeners(const config::server_config& cfg,
                                                                   listener_set& listeners) {
  // 1: unset LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (the fds get FD_CLOEXEC).
  const int n = sd_listen_fds(1);
  if (n < 0) {
    return config::failure{std::string("socket activation: LISTEN_FDS: ") + std::strerror(-n)};
  }
  std::vector<io::listener> inherited;  // owns every fd, so each is closed on an error
  for (int i = 0; i < n; ++i) inherited.emplace_back(SD_LISTEN_FDS_START + i);

  const auto keys = listener_set::keys_of(cfg);
  std::vector<std::string> wanted(cfg.listen.size());  // "127.0.0.1:7007"; "" for port 0
  std::string names;                                   // for the error message
  for (std::size_t i = 0; i < cfg.listen.size(); ++i) {
    const auto at = io::address::parse(cfg.listen[i]);
    if (at && at->port() != 0) wanted[i] = at->to_string();
    names += (i == 0 ? "" : ", ") + cfg.listen[i];
  }

  std::vector<std::string> adopted;
  std::vector<std::string> adopted_keys;  // the listen entry each inherited socket serves
  for (auto& l : inherited) {
    const std::string fd = "fd " + std::to_string(l.fd());
    if (sd_is_socket_inet(l.fd(), AF_UNSPEC, SOCK_STREAM, 1, 0) <= 0) {
      return config::failure{"inherited socket " + fd + ": not a listening TCP socket"};
    }
    const std::string bound = l.local_address().to_string();
    std::size_t match = 0;
    while (match < wanted.size() && wanted[match] != bound) ++match;
    if (match == wanted.size()) {
      return config::failure{"inherited socket " + fd + " (" + bound +
                             "): no listen address names it (listen: " + names + ")"};
    }
    wanted[match].clear();  // a second socket on the same address matches nothing
    adopted_keys.push_back(keys[match]);
    const int flags = ::fcntl(l.fd(), F_GETFL);
    if (flags < 0 || ::fcntl(l.fd(), F_SETFL, flags | O_NONBLOCK) != 0) {
      return config::failure{"inherited socket " + fd + " (" + bound +
                             "): fcntl O_NONBLOCK: " + std::strerror(errno)};
    }
    adopted.push_back(bound + " (adopted " + fd + " from the service manager)");
  }
  // Only now that every socket matched: all or nothing, like listener_set::acquire.
  for (std::size_t i = 0; i < inherited.size(); ++i) {
    listeners.adopt(adopted_keys[i], std::move(inherited[i]));
  }
  return adopted;
}

}  // namespace echod::server
