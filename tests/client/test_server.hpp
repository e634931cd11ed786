// Services for echoload's tests, run in-process on our runtime (one scheduler thread over the
// chosen backend, listening on 127.0.0.1 with an ephemeral port): a correct one, and ones that
// are wrong in the ways echoload must catch.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "io/address.hpp"
#include "io/backend.hpp"

namespace echod::testing {

enum class server_behaviour {
  upper,            ///< correct: every byte back, a-z uppercased
  echo,             ///< every byte back unchanged (wrong for --expect upper)
  drop_last_byte,   ///< each chunk back without its last byte; the connection stays open
  close_mid_reply,  ///< half of the first reply, then close (FIN)
  reset,            ///< reads the first message, then resets the connection (RST)
};

class test_server {
 public:
  test_server(io::backend_kind backend, server_behaviour behaviour);
  ~test_server();  ///< cancels every coroutine and joins the thread
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;

  /// "127.0.0.1:PORT"
  std::string target() const { return address_.to_string(); }
  const io::address& address() const { return address_; }

  /// Holds every reply back until `d` from now, as a stalled server would.
  void stall(std::chrono::nanoseconds d);

  /// Bytes read from clients so far.
  std::uint64_t bytes_received() const;
  /// Connections accepted so far.
  std::uint64_t connections_accepted() const;
  /// The distinct client IP addresses seen so far ("127.0.0.2").
  std::set<std::string> peers() const;

 private:
  struct state;
  std::unique_ptr<state> state_;
  io::address address_;
};

}  // namespace echod::testing
