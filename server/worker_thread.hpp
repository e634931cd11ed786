// One scheduler thread of a worker: its acceptors (one coroutine per listener), its connections
// (one coroutine each, never migrating), the capacity gate between them, and the three phases a
// worker goes through when it ends:
//   serving   -> accept and serve;
//   retiring  -> (reload) no more accepting; open connections are served until their clients
//                close, however long that takes (the worker bounds it with shutdown_timeout);
//                a service with sessions ends each at its next boundary (connection::draining);
//   closing   -> (stop) no more accepting; every read waits at most a short quiet period, so a
//                connection idle in read ends at once (after that period), and one that is busy
//                answers everything its client sends until the client pauses. Each then
//                half-closes and closes politely: the client gets every reply, then EOF.
//                (Not SHUT_RD: after it Linux stops sending window updates, so bytes the client
//                had already sent could be stranded in its send queue and never answered.)
//   ending    -> (shutdown_timeout passed on a busy connection) reads stop: a connection
//                finishes answering what it has read, half-closes (FIN), drains and drops what
//                the client still sends until the client ends (worker.cpp bounds it), then
//                closes. The client sees every reply to what the server consumed, then EOF.
// While serving, overload protection keeps room for new clients: once `overload.threshold_percent`
// of the slots are taken, connections idle for `overload.idle_grace` are closed, oldest first.
// Everything here runs on the thread's own scheduler; other threads reach it with
// scheduler_pool::post_all. It does not decide when to change phase or force an end: worker.cpp
// does (and forces with scheduler::cancel_all).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "io/reactor.hpp"
#include "runtime/clock.hpp"
#include "runtime/scheduler.hpp"
#include "server/connection.hpp"
#include "server/connection_registry.hpp"
#include "server/services.hpp"
#include "server/stats.hpp"

namespace echod::server {

/// How many connections one thread serves at once, and when it makes room (config `coroutines`
/// and "overload"). Built by make_worker_options().
struct connection_limits {
  std::size_t capacity = 0;  ///< slots: connections served at once; acceptors wait when all taken
  /// Overload protection (see the header): once `shed_mark` slots are taken, connections idle for
  /// `idle_grace` are closed, oldest first.
  bool shed_idle = false;
  std::size_t shed_mark = 0;  ///< at least 1
  runtime::clock::duration idle_grace{};
};

/// What every thread of one worker shares; read-only once the threads run. Each part goes to
/// its own component: limits to the thread and its acceptors, connection to each connection,
/// svc and svc_options to the service.
struct worker_plan {
  connection_limits limits;
  io::acceptors acceptors = io::acceptors::many;  ///< who accepts from the listeners
  connection_options connection;
  const service* svc = nullptr;
  service_options svc_options;
  std::vector<int> listen_fds;  ///< inherited listening sockets, shared by every thread
};

class worker_thread {
 public:
  /// `on_done` runs on this thread when its last acceptor and connection have ended (the
  /// scheduler then returns from run()).
  worker_thread(const worker_plan& plan, stats::thread_counters& counters,
                std::function<void()> on_done);
  worker_thread(const worker_thread&) = delete;
  worker_thread& operator=(const worker_thread&) = delete;

  // ---- on this thread ----

  /// Spawns one acceptor per listener on `sched` (scheduler_pool's thread_main). They wait for
  /// open(): a worker accepts nothing until every one of its threads has started, so a worker
  /// that fails to start has no connection to drop.
  void start(runtime::scheduler& sched);
  /// Lets the acceptors accept.
  void open();
  /// Retiring: the acceptors stop (a connection an acceptor got while being cancelled is served).
  void stop_accepting();
  /// Closing: stop_accepting(), then cut every connection's pending read short (see the header).
  void begin_closing();
  bool closing() const { return closing_; }
  /// Ending (after closing): reads end at once, so every connection answers what it has read and
  /// ends with FIN; a read in progress is cut short.
  void end_connections();
  bool ending() const { return ending_; }
  /// Retiring or closing: no more accepting.
  bool draining() const { return !accepting_; }

  runtime::scheduler* scheduler() const { return sched_; }
  const worker_plan& plan() const { return plan_; }
  stats::thread_counters& counters() { return counters_; }

  // ---- for the acceptors (acceptor.cpp) ----

  /// Takes a connection slot, parking until open() and while all limits.capacity slots are busy:
  /// the acceptor stops accepting and the kernel backlog holds new clients. False when the
  /// acceptor is cancelled.
  bool reserve_slot();
  /// Gives back a slot that reserve_slot() took but no connection used.
  void release_slot();
  /// Takes a slot even when all are busy: for a connection the reactor accepted before the
  /// acceptor was cancelled, which is served rather than dropped.
  void reserve_slot_over_capacity() { ++reserved_; }
  /// Starts a connection coroutine for `fd` on a slot reserve_slot() took. Never throws: on
  /// failure the socket is closed and the slot released.
  void spawn_connection(int fd);

  // ---- for connections ----

  /// Where each connection registers for its life; its slot is free once it leaves.
  connection_registry& registry() { return registry_; }
  /// A connection overload chose got input before its read ended: it stays.
  void unshed() { --shedding_; }

 private:
  const worker_plan& plan_;
  stats::thread_counters& counters_;
  std::function<void()> on_done_;
  runtime::scheduler* sched_ = nullptr;
  // The thread is done when all three are empty. Slots taken = reserved_ + registry_.count(), at
  // most limits.capacity.
  std::vector<runtime::coroutine*> acceptors_;  ///< acceptors spawned and not yet ended
  std::size_t reserved_ = 0;  ///< slots reserve_slot() took that no connection holds yet
  connection_registry registry_;
  std::vector<runtime::coroutine*> waiting_;  ///< acceptors parked in reserve_slot()
  bool opened_ = false;
  bool accepting_ = true;
  bool closing_ = false;
  bool ending_ = false;

  // Overload protection (see the header).
  std::size_t shedding_ = 0;       ///< being shed, still registered: their slots are free
  runtime::deadline next_shed_{};  ///< no connection can be idle long enough before

  /// If `taken` connections (less those being evicted) reach the mark, evicts idle ones, oldest
  /// first, until they are below it. Returns when a later call could evict more (no_deadline:
  /// not overloaded, or protection off).
  runtime::deadline shed_idle(std::size_t taken);

  std::size_t slots_taken() const { return reserved_ + registry_.count(); }
  /// A connection left the registry: its slot is free.
  void left(connection& c);
  /// Calls on_done if nothing is left: no acceptor, reserved slot or connection.
  void end_if_done();
};

/// The acceptor coroutine for one listener (acceptor.cpp).
void run_acceptor(worker_thread& t, int listen_fd);

}  // namespace echod::server
