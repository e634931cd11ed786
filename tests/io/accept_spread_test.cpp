// Threads accepting from one listener share its clients, on both backends: the kernel wakes one
// waiting accept per client, and an accept that took one waits again behind the others. A
// multishot accept armed on every thread would not share: its wait stays first in line for good
// and takes every client (measured: 200 of 200 to one of two threads), so io_uring arms one only
// for a listener registered with acceptors::one. Each thread answers with its index.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler_pool.hpp"

namespace echod::io {
namespace {

using namespace std::chrono_literals;
using runtime::clock;

class accept_spread_test : public testing::backend_test {};

TEST_P(accept_spread_test, two_threads_accepting_from_one_listener_share_its_clients) {
  listener l = listener::open(*address::parse("127.0.0.1:0"));  // registered by each thread
  const address at = l.local_address();
  const backend_kind kind = GetParam();
  runtime::scheduler_pool pool(
      {.threads = 2, .per_thread = {}, .thread_name = "spread", .cpus = {}},
      [kind](std::size_t) { return make_reactor(kind); },
      [&l](runtime::scheduler& sched, std::size_t index) {
        sched.spawn([&l, index] {
          reactor::current().add_listener(l.fd(), acceptors::many);
          for (;;) {
            stream conn;
            if (l.accept(conn) != 0) return;  // cancelled: the test is over
            const char id = static_cast<char>(index);
            conn.write_all(&id, 1, clock::now() + 10s);
          }
        });
      });
  // Clients one after another until each thread has served `wanted`: a few dozen when they take
  // turns; never, however long, if one thread took them all.
  constexpr int wanted = 20;
  constexpr int most = 1000;
  std::array<int, 2> served{};
  int clients = 0;
  while (std::min(served[0], served[1]) < wanted && clients < most) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const timeval limit{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    ASSERT_EQ(::connect(fd, at.get(), at.length), 0);
    char id = -1;
    ASSERT_EQ(::recv(fd, &id, 1, 0), 1);
    ::close(fd);
    ASSERT_TRUE(id == 0 || id == 1);
    ++served[static_cast<std::size_t>(id)];
    ++clients;
  }
  pool.stop();
  pool.join();
  EXPECT_GE(served[0], wanted) << "thread 0 served " << served[0] << " of " << clients;
  EXPECT_GE(served[1], wanted) << "thread 1 served " << served[1] << " of " << clients;
  std::printf("clients: %d, thread 0: %d, thread 1: %d\n", clients, served[0], served[1]);
}

ECHOD_INSTANTIATE_BACKENDS(accept_spread_test);

}  // namespace
}  // namespace echod::io
