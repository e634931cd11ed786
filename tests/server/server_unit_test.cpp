// The small pieces of server/ that need no running echod: the service table, respawn back-off, the
// shared counters region, CPU pinning plans, listener keys and reuse across reloads, wait-status
// wording, and the command line.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "config/choices.hpp"
#include "io/address.hpp"
#include "server/backoff.hpp"
#include "server/cli.hpp"
#include "server/cpu_plan.hpp"
#include "server/exit_codes.hpp"
#include "server/listeners.hpp"
#include "server/services.hpp"
#include "server/stats.hpp"

namespace echod::server {
namespace {

using namespace std::chrono_literals;

// Each config::service_kind runs its own function (services.cpp's static_assert already ties the
// table's order and size to the enum).
TEST(services, each_kind_runs_its_own_service) {
  EXPECT_EQ(find_service(config::service_kind::upper).serve, &serve_upper);
  EXPECT_EQ(find_service(config::service_kind::echo).serve, &serve_echo);
  EXPECT_EQ(find_service(config::service_kind::http).serve, &serve_http);
  for (std::size_t i = 0; i < config::choice_names<config::service_kind>::names.size(); ++i) {
    const auto kind = static_cast<config::service_kind>(i);
    EXPECT_EQ(find_service(kind).kind, kind) << config::name_of(kind);
  }
}

TEST(respawn_backoff, doubles_from_100ms_to_5s_and_resets_after_10s_up) {
  respawn_backoff b;
  std::vector<long> delays;
  for (int i = 0; i < 8; ++i) delays.push_back(static_cast<long>(b.next(1s).count()));
  EXPECT_EQ(delays, (std::vector<long>{100, 200, 400, 800, 1600, 3200, 5000, 5000}));
  EXPECT_EQ(b.next(10s).count(), 100);
  EXPECT_EQ(b.next(9s).count(), 200);
}

TEST(stats_region, slots_are_shared_with_a_forked_child_and_survive_its_exit) {
  stats::region r(16);
  stats::thread_counters* a = r.allocate(4);
  stats::thread_counters* b = r.allocate(4);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(r.allocate(9), nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    stats::add(a[0].accepted, 5);
    stats::add(a[3].bytes_in, 100);
    stats::add(b[1].active, 2);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  auto t = r.sum();
  EXPECT_EQ(t.accepted, 5u);
  EXPECT_EQ(t.bytes_in, 100u);
  EXPECT_EQ(t.active, 2u);
  r.release(b, 4);  // the worker is gone: its open connections are too, its counts stay
  t = r.sum();
  EXPECT_EQ(t.active, 0u);
  EXPECT_EQ(t.accepted, 5u);
  stats::thread_counters* c = r.allocate(8);  // b's slots are free again, and zeroed
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(r.sum().accepted, 5u);
}

TEST(stats_totals, read_as_one_line) {
  stats::totals t;
  t.accepted = 3;
  t.closed = 2;
  t.active = 1;
  t.bytes_in = t.bytes_out = 30;
  t.header_timeouts = 4;
  t.body_timeouts = 5;
  t.keepalive_timeouts = 6;
  t.overload_closes = 7;
  EXPECT_EQ(t.to_string(),
            "connections: accepted 3, active 1, closed 2; bytes: in 30, out 30; errors: reset 0, "
            "idle timeout 0, header timeout 4, body timeout 5, other 0; closed: keep-alive "
            "timeout 6, overload 7");
}

TEST(cpu_plan, auto_spreads_workers_and_threads_over_the_allowed_cpus) {
  config::server_config cfg;
  cfg.cpu_affinity = config::cpu_affinity_mode::automatic;
  const std::vector<int> allowed = {0, 2, 4};
  EXPECT_EQ(thread_cpus(cfg, 0, 2, allowed), (std::vector<int>{0, 2}));
  EXPECT_EQ(thread_cpus(cfg, 1, 2, allowed), (std::vector<int>{4, 0}));
  cfg.cpu_affinity = config::cpu_affinity_mode::list;
  cfg.cpus = {7, 9};
  EXPECT_EQ(thread_cpus(cfg, 1, 3, allowed), (std::vector<int>{9, 7, 9}));
  cfg.cpu_affinity = config::cpu_affinity_mode::none;
  EXPECT_TRUE(thread_cpus(cfg, 0, 4, allowed).empty());
}

TEST(cpu_plan, listed_cpus_must_be_usable_here) {
  config::server_config cfg;
  cfg.cpu_affinity = config::cpu_affinity_mode::list;
  cfg.cpus = {0, 5};
  const auto unusable = check_cpus(cfg, {0, 1});
  ASSERT_FALSE(unusable);
  EXPECT_EQ(unusable.error(),
            "cpu_affinity[1]: CPU 5 is not available to this process (usable: 0,1)");
  cfg.cpus = {1};
  EXPECT_TRUE(check_cpus(cfg, {0, 1}));
  EXPECT_FALSE(allowed_cpus().empty());
}

TEST(listener_set, keys_are_canonical_and_number_repeats) {
  config::server_config cfg;
  cfg.listen = {":7007", "127.0.0.1:0", "localhost:0", "[::1]:8"};
  EXPECT_EQ(listener_set::keys_of(cfg), (std::vector<std::string>{"0.0.0.0:7007#0", "127.0.0.1:0#0",
                                                                  "127.0.0.1:0#1", "[::1]:8#0"}));
}

TEST(listener_set, a_reload_keeps_sockets_of_kept_addresses_and_closes_removed_ones) {
  listener_set set;
  config::server_config first;
  first.listen = {"127.0.0.1:0", "127.0.0.1:0"};
  const auto a = *set.acquire(first);
  ASSERT_EQ(a.fds.size(), 2u);
  EXPECT_EQ(a.opened.size(), 2u);
  EXPECT_NE(a.fds[0], a.fds[1]);

  config::server_config second;
  second.listen = {"127.0.0.1:0"};
  const auto b = *set.acquire(second);
  EXPECT_EQ(b.fds, std::vector<int>{a.fds[0]});  // same socket: same port, same backlog queue
  EXPECT_TRUE(b.opened.empty());
  EXPECT_EQ(set.size(), 2u);
  set.release(a.keys);  // the old generation is gone
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.fds(), std::vector<int>{a.fds[0]});
  set.release(b.keys);
  EXPECT_EQ(set.size(), 0u);
}

TEST(listener_set, a_failed_acquire_changes_nothing) {
  listener_set set;
  config::server_config first;
  first.listen = {"127.0.0.1:0"};
  const auto a = *set.acquire(first);
  const auto port = io::address::local_of(a.fds[0])->port();
  config::server_config clash;
  clash.listen = {"127.0.0.1:0", "127.0.0.2:0", "127.0.0.1:" + std::to_string(port)};
  const auto failed = set.acquire(clash);
  ASSERT_FALSE(failed) << "bound a used port";
  EXPECT_EQ(failed.error(), "bind 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(set.fds(), a.fds);

  config::server_config typo;  // the config check refuses it first; acquire says why all the same
  typo.listen = {"127.0.0.1:0", "127.0.0.1"};
  const auto refused = set.acquire(typo);
  ASSERT_FALSE(refused);
  EXPECT_EQ(
      refused.error(),
      R"(127.0.0.1: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "127.0.0.1")");
  EXPECT_EQ(set.size(), 1u);
}

TEST(exit_status, reads_as_words) {
  EXPECT_EQ(describe_wait_status(0), "status 0");
  EXPECT_EQ(describe_wait_status(3 << 8), "status 3");
  EXPECT_EQ(describe_wait_status(SIGKILL), "killed by SIGKILL");
}

std::variant<command_line, int> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "echod");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(command_line, flags_and_repeated_overrides) {
  const auto r = parse(
      {"-c", "x.json", "--set", "processes=4", "--set", "listen=[\"a:1\"]", "--check-config"});
  ASSERT_TRUE(std::holds_alternative<command_line>(r));
  const auto& c = std::get<command_line>(r);
  EXPECT_EQ(c.config_path, "x.json");
  EXPECT_EQ(c.overrides, (std::vector<std::string>{"processes=4", "listen=[\"a:1\"]"}));
  EXPECT_TRUE(c.check_config);
  EXPECT_FALSE(c.print_config);
}

TEST(command_line, no_config_file_means_the_defaults) {
  const auto r = parse({});
  ASSERT_TRUE(std::holds_alternative<command_line>(r));
  EXPECT_TRUE(std::get<command_line>(r).config_path.empty());
}

TEST(command_line, unknown_flags_are_usage_errors) {
  const auto r = parse({"--nope"});
  ASSERT_TRUE(std::holds_alternative<int>(r));
  EXPECT_EQ(std::get<int>(r), exit_code::usage);
}

}  // namespace
}  // namespace echod::server
