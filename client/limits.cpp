// Open-file and local-port checks (see limits.hpp).
#include "client/limits.hpp"

#include <sys/resource.h>

#include <fstream>

#include "io/fd_limit.hpp"

namespace echod::client {
namespace {

std::string limit_text(rlim_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
}

}  // namespace

config::result<void> check_open_files(std::size_t connections, std::size_t reserve) {
  const auto limits = io::raise_fd_limit();
  if (!limits) return {};  // nothing known: just try
  const rlimit lim = *limits;
  const std::size_t need = connections + reserve;
  if (lim.rlim_cur == RLIM_INFINITY || need <= lim.rlim_cur) return {};
  return config::failure{
      std::to_string(connections) + " connections need " + std::to_string(connections) +
      " open files (plus " + std::to_string(reserve) + " for echoload itself); the limit here is " +
      limit_text(lim.rlim_cur) + " (ulimit -n; the hard limit is " + limit_text(lim.rlim_max) +
      "): raise it (ulimit -Hn, limits.conf, systemd LimitNOFILE=) or use fewer connections"};
}

std::optional<port_range> local_port_range() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  port_range r;
  if (!(in >> r.low >> r.high) || r.size() == 0) return std::nullopt;
  return r;
}

config::result<void> check_local_ports(std::size_t connections, std::size_t sources) {
  const auto range = local_port_range();
  if (!range) return {};  // nothing known: just try
  const std::size_t addresses = sources == 0 ? 1 : sources;
  const std::size_t capacity = static_cast<std::size_t>(range->size()) * addresses;
  if (connections <= capacity) return {};
  const std::size_t needed = (connections + range->size() - 1) / range->size();
  return config::failure{
      std::to_string(connections) + " connections to one address need " +
      std::to_string(connections) + " local ports, but net.ipv4.ip_local_port_range (" +
      std::to_string(range->low) + "-" + std::to_string(range->high) + ") gives " +
      std::to_string(range->size()) + " per source address and " +
      (sources == 0 ? "no --source was given" : std::to_string(sources) + " were given") +
      ": spread the connections over at least " + std::to_string(needed) +
      " source addresses with --source 127.0.0.2,127.0.0.3,..."};
}

std::string ports_exhausted_hint() {
  std::string range;
  if (const auto r = local_port_range()) {
    range = " (net.ipv4.ip_local_port_range " + std::to_string(r->low) + "-" +
            std::to_string(r->high) + ", " + std::to_string(r->size()) +
            " ports per source address)";
  }
  return "connect failed with \"Cannot assign requested address\": the local ephemeral ports are "
         "used up" +
         range +
         "; spread connections over more source addresses with --source 127.0.0.2,127.0.0.3 "
         "(closed connections hold their port in TIME_WAIT for a minute, so churn uses them up "
         "fastest). The rates above were limited by this machine's ports, not by the server";
}

}  // namespace echod::client
