// The options a worker builds from its config, once, for each component: every field the worker
// reads reaches the component that uses it, converted where the component's unit differs.
#include "server/worker_options.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "config/server_config.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;

TEST(worker_options, buffers_and_scheduler_threads_get_their_fields) {
  const auto cfg = config::parse_server_config(
      R"({"threads": 3, "coroutines": 10, "stack_size": "128KiB", "buffer_size": "8KiB",
          "io_uring_entries": 256, "io_uring_multishot": false, "io_uring_recv_bundles": false,
          "io_uring_buffers": 64,
          "io_uring_buffer_size": "4KiB"})",
      "<test>");
  const worker_options o = make_worker_options(cfg, {7, 8}, {2, 3, 4});
  EXPECT_EQ(o.pool.threads, 3u);
  EXPECT_EQ(o.pool.cpus, (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(o.pool.per_thread.stack_size, 128u * 1024);
  EXPECT_EQ(o.pool.per_thread.max_cached_stacks, 10u + 2 + 1);  // connections, acceptors, one
  EXPECT_EQ(o.reactor.buffer_size, 8u * 1024);
  EXPECT_EQ(o.reactor.cached_buffers, 10u);  // at most coroutines (and 64)
  EXPECT_EQ(o.reactor.ring_entries, 256u);
  EXPECT_FALSE(o.reactor.multishot);
  EXPECT_FALSE(o.reactor.recv_bundles);
  EXPECT_EQ(o.reactor.ring_buffers, 64u);
  EXPECT_EQ(o.reactor.ring_buffer_size, 4u * 1024);
  EXPECT_EQ(o.plan.listen_fds, (std::vector<int>{7, 8}));
  EXPECT_EQ(o.plan.acceptors, io::acceptors::many);
}

TEST(worker_options, limits_round_the_overload_mark_up_and_keep_at_least_one) {
  config::server_config cfg;
  cfg.coroutines = 10;
  cfg.overload.threshold_percent = 91;
  cfg.overload.idle_grace = 250ms;
  auto limits = make_worker_options(cfg, {}, {}).plan.limits;
  EXPECT_EQ(limits.capacity, 10u);
  EXPECT_TRUE(limits.shed_idle);
  EXPECT_EQ(limits.shed_mark, 10u);  // 9.1 rounded up
  EXPECT_EQ(limits.idle_grace, 250ms);

  cfg.coroutines = 1;
  cfg.overload.threshold_percent = 1;
  cfg.overload.enabled = false;
  limits = make_worker_options(cfg, {}, {}).plan.limits;
  EXPECT_EQ(limits.shed_mark, 1u);
  EXPECT_FALSE(limits.shed_idle);
}

TEST(worker_options, a_lone_thread_in_a_lone_process_is_the_only_acceptor) {
  config::server_config cfg;
  cfg.processes = 1;
  cfg.threads = 1;
  EXPECT_EQ(make_worker_options(cfg, {}, {}).plan.acceptors, io::acceptors::one);
  cfg.processes = 2;
  EXPECT_EQ(make_worker_options(cfg, {}, {}).plan.acceptors, io::acceptors::many);
}

TEST(worker_options, connection_service_and_worker_get_their_own) {
  const auto cfg = config::parse_server_config(
      R"({"service": "http", "idle_timeout": "2500ms", "tcp_nodelay": false,
          "shutdown_timeout": 4,
          "http": {"max_header_bytes": "1KiB", "max_body_bytes": 100, "header_timeout": 3,
                   "body_timeout": 0, "body_min_rate": 10, "keepalive_timeout": "1500ms"}})",
      "<test>");
  const worker_options o = make_worker_options(cfg, {}, {});
  EXPECT_EQ(o.plan.connection.idle_timeout, 2500ms);
  EXPECT_FALSE(o.plan.connection.tcp_nodelay);
  ASSERT_NE(o.plan.svc, nullptr);
  EXPECT_EQ(o.plan.svc->kind, config::service_kind::http);
  const http_options& http = o.plan.svc_options.http;
  EXPECT_EQ(http.limits.max_header_bytes, 1024u);
  EXPECT_EQ(http.limits.max_body_bytes, 100u);
  EXPECT_EQ(http.header_timeout, 3s);
  EXPECT_EQ(http.body_timeout, 0s);
  EXPECT_EQ(http.body_min_rate, 10u);
  EXPECT_EQ(http.keepalive_timeout, 1500ms);
  EXPECT_EQ(o.shutdown_timeout, 4s);
}

}  // namespace
}  // namespace echod::server
