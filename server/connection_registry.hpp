// The open connections of one worker thread, and their one count. A connection is in the
// registry for exactly its lifetime: it holds a `member` (RAII), which links it into an intrusive
// list (no allocation and no lock: a thread's connections live and die on its own scheduler) and
// keeps the thread's stats gauge `active` equal to the list's length. That gauge is the only
// count of open connections: the admin endpoint, /metrics and the worker's stop log read it
// (from other threads and processes), and the thread reads it through count().
// worker_thread walks the list for a stop (every read is interrupted) and for overload shedding
// (oldest first). The registry does not know what a connection does.
#pragma once

#include <cstddef>
#include <functional>

#include "server/stats.hpp"

namespace echod::server {

class connection;

class connection_registry {
  struct node {
    connection* self;
    node* newer = nullptr;
    node* older = nullptr;
  };

 public:
  /// Runs when a connection leaves, once it is unlinked and counted closed.
  using leave_fn = std::function<void(connection&)>;

  /// Counts in `counters` (accepted, active, closed), which must outlive the registry.
  connection_registry(stats::thread_counters& counters, leave_fn on_leave)
      : counters_(counters), on_leave_(std::move(on_leave)) {}
  connection_registry(const connection_registry&) = delete;
  connection_registry& operator=(const connection_registry&) = delete;

  /// A connection's membership: registered (and counted accepted) from construction, unregistered
  /// (and counted closed) at destruction.
  class member {
   public:
    member(connection_registry& r, connection& c) : registry_(r), node_{&c} { r.link(node_); }
    ~member() { registry_.unlink(node_); }
    member(const member&) = delete;
    member& operator=(const member&) = delete;

   private:
    connection_registry& registry_;
    node node_;
  };

  /// Open connections now.
  std::size_t count() const { return counters_.active.load(std::memory_order_relaxed); }

  /// Calls `f(connection&)` for every open connection. `f` may make a connection ready to run, not
  /// end it (it ends on its own coroutine, later).
  template <class F>
  void for_each(F&& f) const {
    for (node* n = newest_; n != nullptr; n = n->older) f(*n->self);
  }
  /// Calls `f(connection&)` oldest first while it returns true; as for_each() otherwise.
  template <class F>
  void for_each_oldest_first(F&& f) const {
    for (node* n = oldest_; n != nullptr; n = n->newer) {
      if (!f(*n->self)) return;
    }
  }

 private:
  void link(node& n);
  void unlink(node& n);

  stats::thread_counters& counters_;
  leave_fn on_leave_;
  node* newest_ = nullptr;
  node* oldest_ = nullptr;
};

}  // namespace echod::server
