// The master's listening sockets, shared by generations of workers. A reload keeps the socket of
// every address the new config still lists (same file, same queue: clients waiting in the backlog
// are accepted by whichever generation asks next, so nothing is refused or lost), opens sockets
// for new addresses, and closes a socket only when no running generation uses it any more.
// Opening happens in the master before any fork, so bind errors are reported once, clearly.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/result.hpp"
#include "config/server_config.hpp"
#include "io/socket.hpp"

namespace echod::server {

class listener_set {
 public:
  /// What acquire() returns: one entry per `listen` address of the config, in its order.
  struct lease {
    std::vector<std::string> keys;
    std::vector<int> fds;
    std::vector<std::string> opened;  ///< bound addresses opened by this call ("127.0.0.1:4242")
  };

  /// Sockets for every address of `cfg` (backlog from the config; IPv6 ones are v6-only), reusing
  /// open ones, each now used once more. All or nothing: on failure nothing changes and the
  /// reason says which address and why, e.g. "bind 0.0.0.0:7007: Address already in use".
  config::result<lease> acquire(const config::server_config& cfg);
  /// Takes `socket` (already listening, e.g. inherited from a service manager) as the socket of
  /// `key` (one of keys_of()), unused until an acquire() lists that key.
  void adopt(const std::string& key, io::listener socket);
  /// Ends one use of each key; closes sockets nobody uses any more.
  void release(const std::vector<std::string>& keys);

  /// Every open listening socket (a forked worker closes those it was not given).
  std::vector<int> fds() const;
  /// Every open listening socket with its key (what an upgrade hands to the new master).
  std::vector<std::pair<std::string, int>> keyed_fds() const;
  std::size_t size() const { return open_.size(); }

  /// The key of each address: its canonical form, numbered for repeats ("127.0.0.1:0#1": several
  /// port-0 entries are distinct sockets), so an address keeps its socket across reloads.
  static std::vector<std::string> keys_of(const config::server_config& cfg);

 private:
  struct entry {
    io::listener socket;
    std::size_t users = 0;
  };
  std::map<std::string, entry> open_;
};

}  // namespace echod::server
