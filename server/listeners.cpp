#include "server/listeners.hpp"

#include <sys/socket.h>

#include <system_error>

#include "config/host_port.hpp"
#include "io/address.hpp"

namespace echod::server {

std::vector<std::string> listener_set::keys_of(const config::server_config& cfg) {
  std::vector<std::string> keys;
  std::map<std::string, int> seen;
  for (const std::string& spec : cfg.listen) {
    const auto hp = config::parse_host_port(spec);
    const std::string canonical = hp ? hp->canonical() : spec;
    keys.push_back(canonical + "#" + std::to_string(seen[canonical]++));
  }
  return keys;
}

config::result<listener_set::lease> listener_set::acquire(const config::server_config& cfg) {
  lease out;
  out.keys = keys_of(cfg);
  std::map<std::string, io::listener> fresh;  // opened by this call, adopted only on success
  for (std::size_t i = 0; i < cfg.listen.size(); ++i) {
    const std::string& key = out.keys[i];
    if (open_.count(key) != 0 || fresh.count(key) != 0) continue;
    const auto at = io::address::parse(cfg.listen[i]);
    if (!at) return config::failure{cfg.listen[i] + ": " + at.error()};
    io::listen_options opts;
    opts.backlog = static_cast<int>(cfg.backlog);
    opts.v6_only = true;
    // listener::open throws std::system_error with the errno of the call that failed. A taken
    // port is an expected failure of start and reload, so it becomes the reason here, like a bad
    // address: the master has one way to hear "failed, and why" (config/result.hpp). Returning
    // drops `fresh`, which closes what this call opened.
    try {
      io::listener l = io::listener::open(*at, opts);
      out.opened.push_back(l.local_address().to_string());
      fresh.emplace(key, std::move(l));
    } catch (const std::system_error& e) {
      return config::failure{e.what()};
    }
  }
  for (const std::string& key : out.keys) {
    auto it = open_.find(key);
    if (it == open_.end()) {
      it = open_.emplace(key, entry{std::move(fresh.at(key)), 0}).first;
    } else {
      // A kept socket takes the new backlog: listen() again on a listening socket updates it.
      ::listen(it->second.socket.fd(), static_cast<int>(cfg.backlog));
    }
    ++it->second.users;
    out.fds.push_back(it->second.socket.fd());
  }
  return out;
}

void listener_set::adopt(const std::string& key, io::listener socket) {
  open_.insert_or_assign(key, entry{std::move(socket), 0});
}

void listener_set::release(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) {
    const auto it = open_.find(key);
    if (it == open_.end()) continue;
    if (--it->second.users == 0) open_.erase(it);
  }
}

std::vector<int> listener_set::fds() const {
  std::vector<int> out;
  for (const auto& [key, e] : open_) out.push_back(e.socket.fd());
  return out;
}

std::vector<std::pair<std::string, int>> listener_set::keyed_fds() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [key, e] : open_) out.emplace_back(key, e.socket.fd());
  return out;
}

}  // namespace echod::server
