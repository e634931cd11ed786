// The epoll reactor forgets a listening socket completely: its file is shared with other
// processes (the workers of a server), so close() alone would leave it in the epoll set and every
// new client would wake a thread that no longer accepts. The case that used to slip through: the
// acceptor's very first wait ended in a cancel (a worker retired before any client came).
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "io/backend.hpp"
#include "io/socket.hpp"
#include "runtime/scheduler.hpp"

namespace echod::io {
namespace {

using namespace std::chrono_literals;

// Whether any epoll instance of this process watches descriptor `fd` ("tfd: N" in fdinfo).
bool watched_by_some_epoll(int fd) {
  bool found = false;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char target[64] = {};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(link.c_str(), target, sizeof target - 1) <= 0) continue;
    if (std::string(target) != "anon_inode:[eventpoll]") continue;
    std::ifstream info(std::string("/proc/self/fdinfo/") + e->d_name);
    std::string word;
    while (info >> word) {
      int watched = -1;
      if (word == "tfd:" && info >> watched && watched == fd) found = true;
    }
  }
  closedir(dir);
  return found;
}

TEST(epoll_forget_test, a_listener_whose_only_accept_was_cancelled_leaves_the_epoll_set) {
  bool before = false;
  bool after = true;
  listener l;
  runtime::scheduler sched(make_reactor(backend_kind::epoll));
  sched.spawn([&] {
    l = listener::open(*address::parse("127.0.0.1:0"));
    auto* self = runtime::scheduler::current();
    runtime::coroutine* acceptor = self->spawn([&] {
      stream s;
      EXPECT_EQ(l.accept(s), -ECANCELED);
    });
    runtime::this_coroutine::sleep_for(5ms);  // the acceptor now waits in epoll
    before = watched_by_some_epoll(l.fd());
    self->cancel(acceptor);
    runtime::this_coroutine::sleep_for(5ms);
    l.slot().forget();
    after = watched_by_some_epoll(l.fd());
  });
  sched.run();
  EXPECT_TRUE(before);
  EXPECT_FALSE(after);
}

}  // namespace
}  // namespace echod::io
