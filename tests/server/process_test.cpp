// echod's processes under signals, kills, reloads and bad input, on the real binary: the process
// tree (and CPU pinning) matches the config, config and bind errors end echod before it forks,
// SIGTERM drains and a worker that ignores it is killed, SIGHUP reloads under traffic without a
// client error, retiring workers close leftovers politely, a bad reload keeps the old workers, a
// killed worker is replaced without disturbing the others, a worker that cannot start does not
// respawn in a loop, and counters add up.
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"
#include "io/address.hpp"
#include "io/socket.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

std::string server_config_json(io::backend_kind backend, const std::string& extra,
                               const std::string& shutdown_timeout = "10") {
  return std::string(R"({"listen": "127.0.0.1:0", "backend": ")") + io::backend_name(backend) +
         R"(", "shutdown_timeout": )" + shutdown_timeout + (extra.empty() ? "" : ", " + extra) +
         "}";
}

std::string exit_of(const std::optional<int>& status) {
  return status ? describe_status(*status) : "still running";
}

class process_test : public backend_test {
 protected:
  std::unique_ptr<echod_process> start(std::vector<std::string> extra) {
    auto args = base_args(GetParam());
    args.insert(args.end(), extra.begin(), extra.end());
    auto e = std::make_unique<echod_process>(std::move(args));
    EXPECT_NE(e->port(), 0) << e->log();
    return e;
  }
  std::unique_ptr<echod_process> start_with_file(const temp_config& file) {
    auto e = std::make_unique<echod_process>(std::vector<std::string>{"-c", file.path()});
    EXPECT_NE(e->port(), 0) << e->log();
    return e;
  }
};

// ---- the process tree ----

bool is_scheduler(const thread_info& t) { return t.name.rfind("echod-sched-", 0) == 0; }

TEST_P(process_test, one_master_two_workers_three_scheduler_threads_each) {
  auto e = start({"--set", "processes=2", "--set", "threads=3"});
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  EXPECT_EQ(command_line_of(e->pid()), "echod: master");
  std::set<std::string> titles;
  for (const pid_t w : e->workers()) {
    titles.insert(command_line_of(w));
    const auto schedulers = std::ranges::count_if(threads_of(w), is_scheduler);
    EXPECT_EQ(schedulers, 3) << "worker " << w;
    EXPECT_TRUE(children_of(w).empty()) << "a worker forked";
  }
  EXPECT_EQ(titles, (std::set<std::string>{"echod: worker 1", "echod: worker 2"}));
  EXPECT_EQ(threads_of(e->pid()).size(), 1u) << "the master runs no threads";
  EXPECT_EQ(e->stop(SIGTERM, 10s).value_or(-1), 0) << e->log();
}

// The CPUs each scheduler thread of `pid` may run on ("0-3", "1").
std::vector<std::string> scheduler_cpu_lists(pid_t pid) {
  std::vector<std::string> out;
  for (const thread_info& t : threads_of(pid)) {
    if (is_scheduler(t)) out.push_back(t.cpus_allowed);
  }
  return out;
}

TEST(process_affinity, auto_pins_each_scheduler_thread_to_its_own_cpu) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "this process may use only one CPU";
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "processes=2", "--set", "threads=1",
                   "--set", "cpu_affinity=auto", "--set", "backend=epoll"});
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  std::set<std::string> cpus;
  for (const pid_t w : e.workers()) {
    const auto lists = scheduler_cpu_lists(w);
    ASSERT_EQ(lists.size(), 1u);
    EXPECT_EQ(lists[0].find_first_of(",-"), std::string::npos) << "not pinned: " << lists[0];
    cpus.insert(lists[0]);
  }
  EXPECT_EQ(cpus.size(), 2u) << "both workers' threads on one CPU";
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
}

// ---- errors before anything is forked ----

TEST(process_errors, config_errors_exit_2_naming_the_path_before_any_fork) {
  temp_config unknown_key(R"({"listen": "127.0.0.1:0", "bogus": 1})");
  temp_config bad_type(R"({"listen": "127.0.0.1:0", "threads": "many"})");
  temp_config bad_listen(R"({"listen": ["127.0.0.1:0", "127.0.0.1:99999"]})");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-c", unknown_key.path()}, unknown_key.path() + ": bogus: unknown key"},
      {{"-c", bad_type.path()}, bad_type.path() + ": threads: "},
      {{"-c", bad_listen.path()}, bad_listen.path() + ": listen[1]: "},
      {{"--set", "processes=-1"}, "--set: processes: "},
      {{"--set", "listen=nowhere"}, "--set: listen: "},
      {{"-c", "/nonexistent/echod.json"}, "/nonexistent/echod.json: cannot read"},
  };
  for (const auto& [args, message] : cases) {
    echod_process e(args, false);
    const auto status = e.proc().wait_exit(10s);
    const std::string log = e.final_log();
    EXPECT_EQ(exit_of(status), "exited 2") << log;
    EXPECT_NE(log.find(message), std::string::npos) << "want: " << message << "\n" << log;
    EXPECT_EQ(log.find("started"), std::string::npos) << log;
  }
}

TEST(process_errors, a_used_address_is_a_bind_error_exit_1) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto at = *io::address::parse("127.0.0.1:0");
  ASSERT_EQ(::bind(fd, at.get(), at.length), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const int port = io::address::local_of(fd)->port();
  echod_process e({"--set", "listen=127.0.0.1:" + std::to_string(port)}, false);
  const auto status = e.proc().wait_exit(10s);
  const std::string log = e.final_log();
  EXPECT_EQ(exit_of(status), "exited 1") << log;
  EXPECT_NE(log.find("bind 127.0.0.1:" + std::to_string(port) + ": Address already in use"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("started"), std::string::npos) << log;
  ::close(fd);
}

TEST(process_errors, bad_command_lines_exit_2) {
  echod_process unknown({"--frobnicate"}, false);
  EXPECT_EQ(exit_of(unknown.proc().wait_exit(10s)), "exited 2") << unknown.log();
  echod_process no_equals({"--set", "processes"}, false);
  EXPECT_EQ(exit_of(no_equals.proc().wait_exit(10s)), "exited 2") << no_equals.log();
}

TEST(process_errors, no_descriptor_for_a_worker_at_start_exits_1_after_retries) {
  // Seven descriptors: stdio, the listener, the signalfd and the master's loop (its epoll and
  // wake descriptors) leave none for a ready pipe.
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "processes=1"}, false,
                  {"/usr/bin/prlimit", "--nofile=7:7"});
  const auto status = e.proc().wait_exit(15s);
  const std::string log = e.final_log();
  EXPECT_EQ(exit_of(status), "exited 1") << log;
  EXPECT_EQ(e.count_log("cannot start worker 1: pipe: Too many open files; retrying in"), 4U)
      << log;
  EXPECT_EQ(e.count_log("cannot start worker 1: pipe: Too many open files \\(5 attempts\\); "
                        "giving up: stopping echod"),
            1U)
      << log;
}

TEST(process_errors, io_uring_demanded_where_it_is_missing_exits_2) {
  if (io::probe_io_uring().usable) GTEST_SKIP() << "io_uring works here";
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "backend=io_uring"}, false);
  const auto status = e.proc().wait_exit(10s);
  EXPECT_EQ(exit_of(status), "exited 2") << e.final_log();
  EXPECT_NE(e.final_log().find("backend \"io_uring\" is not available here"), std::string::npos);
}

TEST(process_errors, check_config_and_print_config) {
  temp_config good(R"({"listen": "127.0.0.1:0", "processes": 3, "coroutines": 100})");
  echod_process check({"-c", good.path(), "--check-config"}, false);
  EXPECT_EQ(exit_of(check.proc().wait_exit(10s)), "exited 0") << check.log();
  EXPECT_TRUE(check.proc().wait_for_stdout("config OK", 5s)) << check.proc().stdout_text();

  echod_process print({"-c", good.path(), "--set", "threads=2", "--print-config"}, false);
  EXPECT_EQ(exit_of(print.proc().wait_exit(10s)), "exited 0") << print.log();
  print.proc().wait_for_stdout("(?!)", 5s);  // all of it: returns once stdout has closed
  const std::string printed = print.proc().stdout_text();
  EXPECT_NE(printed.find("\"processes\": 3"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"threads\": 2"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"coroutines\": 100"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"idle_timeout\""), std::string::npos) << "every field is shown";

  // What --print-config shows is itself a valid config.
  temp_config round_trip(printed);
  echod_process again({"-c", round_trip.path(), "--check-config"}, false);
  EXPECT_EQ(exit_of(again.proc().wait_exit(10s)), "exited 0") << again.log();

  echod_process bad({"--set", "coroutines=0", "--check-config"}, false);
  EXPECT_EQ(exit_of(bad.proc().wait_exit(10s)), "exited 2");
  EXPECT_NE(bad.final_log().find("coroutines"), std::string::npos) << bad.log();
}

// ---- stop ----

TEST_P(process_test, sigterm_drains_a_client_mid_stream_then_exits_0_in_time) {
  auto e = start({"--set", "processes=1", "--set", "threads=1"});
  ASSERT_TRUE(e->wait_workers(1)) << e->log();
  client idle(e->port());
  ASSERT_TRUE(idle.round_trip("idle after this"));
  client busy(e->port());
  ASSERT_TRUE(busy.connected());
  const std::string payload = random_bytes(2u << 20, 5);
  std::string reply;
  bool clean = false;
  std::thread reader([&] { reply = busy.recv_until_eof(&clean); });
  ASSERT_TRUE(busy.send_all(payload));  // all of it is in the kernel's hands now
  const auto stop_time = std::chrono::steady_clock::now();
  e->proc().signal(SIGTERM);
  bool idle_clean = false;
  EXPECT_EQ(idle.recv_until_eof(&idle_clean), "");
  EXPECT_TRUE(idle_clean) << "the idle client did not get EOF";
  reader.join();
  EXPECT_TRUE(clean) << "the busy client's reply ended in an error, not EOF";
  EXPECT_EQ(reply.size(), payload.size());
  EXPECT_TRUE(reply == python_upper(payload)) << "replies differ";
  const auto status = e->proc().wait_exit(10s);
  EXPECT_EQ(exit_of(status), "exited 0") << e->log();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_time, 3s) << "shutdown_timeout is 2 s";
  EXPECT_EQ(e->count_log("killing it"), 0u) << e->log();
}

TEST_P(process_test, sigint_stops_gracefully_too) {
  auto e = start({"--set", "processes=2"});
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  client c(e->port());
  ASSERT_TRUE(c.round_trip("hello"));
  EXPECT_EQ(exit_of(e->stop(SIGINT, 10s)), "exited 0") << e->log();
  EXPECT_TRUE(e->workers().empty());
}

TEST_P(process_test, a_killed_master_takes_its_workers_down) {
  auto e = start({"--set", "processes=2"});
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  const auto workers = e->workers();
  e->proc().signal(SIGKILL);
  e->proc().wait_exit(5s);
  const auto until = std::chrono::steady_clock::now() + 5s;
  auto alive = [&] {
    return std::count_if(workers.begin(), workers.end(), [](pid_t w) {
      std::ifstream stat("/proc/" + std::to_string(w) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) return false;
      const auto close = line.rfind(')');
      return close != std::string::npos && line.substr(close + 2, 1) != "Z";
    });
  };
  while (alive() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(alive(), 0) << "workers outlived their master";
}

TEST(process_stop, a_worker_that_does_not_stop_in_time_is_killed_and_echod_still_exits_0) {
  echod_process e({"--set", "listen=127.0.0.1:0", "--set", "processes=2", "--set",
                   "shutdown_timeout=500ms", "--set", "backend=epoll"});
  ASSERT_TRUE(e.wait_workers(2)) << e.log();
  const pid_t frozen = e.workers()[0];
  ASSERT_EQ(::kill(frozen, SIGSTOP), 0);  // it cannot react to the stop request
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(exit_of(e.stop(SIGTERM, 10s)), "exited 0") << e.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_NE(
      e.final_log().find("(pid " + std::to_string(frozen) + ") has not ended in time; killing it"),
      std::string::npos)
      << e.log();
}

// ---- reload ----

TEST_P(process_test, sighup_reloads_under_traffic_with_no_client_error_or_lost_byte) {
  temp_config file(server_config_json(GetParam(), R"("processes": 2)"));
  auto e = start_with_file(file);
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  const auto first_workers = e->workers();

  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::atomic<long> bytes{0};
  std::atomic<long> connections{0};
  std::vector<std::thread> clients;
  for (unsigned t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      unsigned seed = t * 1000;
      while (!done.load()) {
        // Short connections: new ones are accepted by whichever generation serves now.
        client c(e->port());
        if (!c.connected()) {
          ++errors;
          continue;
        }
        ++connections;
        for (int i = 0; i < 10 && !done.load(); ++i) {
          const std::string msg = random_bytes(1 + (seed * 7919) % 8192, seed);
          ++seed;
          if (!c.round_trip(msg)) {
            ++errors;
            break;
          }
          bytes += static_cast<long>(msg.size());
        }
      }
    });
  }
  // One long-lived connection too: its retiring worker keeps serving it.
  client lasting(e->port());
  ASSERT_TRUE(lasting.round_trip("before any reload"));

  const std::vector<std::string> steps = {R"("processes": 3)", R"("processes": 3, "threads": 2)",
                                          R"("processes": 1, "coroutines": 64)"};
  for (std::size_t i = 0; i < steps.size(); ++i) {
    std::this_thread::sleep_for(300ms);
    file.write(server_config_json(GetParam(), steps[i]));
    e->proc().signal(SIGHUP);
    const std::string generation = std::to_string(i + 2);
    ASSERT_TRUE(e->wait_log("reload complete: generation " + generation)) << e->log();
    EXPECT_TRUE(lasting.round_trip("during generation " + generation)) << e->log();
  }
  std::this_thread::sleep_for(300ms);
  done = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(errors.load(), 0) << e->log();
  EXPECT_GT(connections.load(), 8);
  EXPECT_GT(bytes.load(), 0);
  EXPECT_TRUE(lasting.round_trip("after every reload"));
  lasting.close();
  // Generations 1-3 end once their last connection has: only generation 4's worker remains.
  ASSERT_TRUE(e->wait_workers(1)) << e->log();
  for (const pid_t w : e->workers()) {
    EXPECT_EQ(std::count(first_workers.begin(), first_workers.end(), w), 0) << "not replaced";
  }
  EXPECT_EQ(e->count_log("listening on"), 1u) << "the listening socket was reopened";
  EXPECT_EQ(e->count_log("killing it"), 0u) << e->log();
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 15s)), "exited 0") << e->log();
}

TEST_P(process_test, a_retiring_worker_closes_what_outlives_shutdown_timeout_politely) {
  temp_config file(server_config_json(GetParam(), R"("processes": 1)", "0.5"));
  auto e = start_with_file(file);
  ASSERT_TRUE(e->wait_workers(1)) << e->log();
  const pid_t old_worker = e->workers()[0];
  client lingering(e->port());
  ASSERT_TRUE(lingering.round_trip("served by generation 1"));
  e->proc().signal(SIGHUP);
  ASSERT_TRUE(e->wait_log("reload complete: generation 2")) << e->log();
  EXPECT_TRUE(lingering.round_trip("still served while retiring"));
  bool clean = false;
  EXPECT_EQ(lingering.recv_until_eof(&clean), "");  // after 0.5 s: EOF, not a reset
  EXPECT_TRUE(clean);
  ASSERT_TRUE(e->wait_log("worker 1 \\(pid " + std::to_string(old_worker) + "\\) exited: status 0"))
      << e->log();
  EXPECT_EQ(e->count_log("killing it"), 0u) << e->log();
  client fresh(e->port());
  EXPECT_TRUE(fresh.round_trip("generation 2 serves"));
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 10s)), "exited 0") << e->log();
}

TEST_P(process_test, a_reload_ends_http_keep_alive_at_the_next_response) {
  temp_config file(server_config_json(GetParam(), R"("processes": 1, "service": "http")"));
  auto e = start_with_file(file);
  ASSERT_TRUE(e->wait_workers(1)) << e->log();
  const pid_t old_worker = e->workers()[0];
  const auto response = [](const std::string& body, const std::string& headers = "") {
    return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
  };
  client kept(e->port());
  ASSERT_TRUE(kept.send_all("GET /one HTTP/1.1\r\n\r\n"));
  ASSERT_EQ(kept.recv_exact(response("/ONE").size()), response("/ONE"));

  e->proc().signal(SIGHUP);
  ASSERT_TRUE(e->wait_log("retire: no longer accepting")) << e->log();
  // The retiring worker answers the next request and ends the session there, so the client
  // moves to the new generation instead of holding the old worker up for shutdown_timeout.
  ASSERT_TRUE(kept.send_all("GET /two HTTP/1.1\r\n\r\n"));
  bool clean = false;
  EXPECT_EQ(kept.recv_until_eof(&clean), response("/TWO", "Connection: close\r\n"));
  EXPECT_TRUE(clean);
  ASSERT_TRUE(e->wait_log("worker 1 \\(pid " + std::to_string(old_worker) + "\\) exited: status 0"))
      << e->log();

  client fresh(e->port());
  ASSERT_TRUE(fresh.send_all("GET /three HTTP/1.1\r\n\r\n"));
  EXPECT_EQ(fresh.recv_exact(response("/THREE").size()), response("/THREE"));
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 10s)), "exited 0") << e->log();
}

TEST_P(process_test, a_bad_reload_keeps_the_current_workers_serving) {
  temp_config file(server_config_json(GetParam(), R"("processes": 2)"));
  auto e = start_with_file(file);
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  const auto workers = e->workers();
  client c(e->port());
  ASSERT_TRUE(c.round_trip("before"));

  // A used address: the reload fails at bind, after parsing.
  int used = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto at = *io::address::parse("127.0.0.1:0");
  ASSERT_EQ(::bind(used, at.get(), at.length), 0);
  ASSERT_EQ(::listen(used, 1), 0);
  const std::string used_at = "127.0.0.1:" + std::to_string(io::address::local_of(used)->port());

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"{ not json", "invalid JSON"},
      {server_config_json(GetParam(), R"("processes": -1)"), "processes: "},
      {server_config_json(GetParam(), R"("frobs": 1)"), "frobs: unknown key"},
      {R"({"listen": ["127.0.0.1:0", ")" + used_at + R"("]})",
       "bind " + used_at + ": Address already in use"},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    file.write(bad[i].first);
    e->proc().signal(SIGHUP);
    const auto line = e->wait_log("reload failed: .*" + bad[i].second.substr(0, 12));
    ASSERT_TRUE(line) << e->log();
    EXPECT_EQ(e->count_log("reload failed: .*; keeping the current config"), i + 1) << e->log();
    EXPECT_EQ(e->workers(), workers);
    EXPECT_TRUE(c.round_trip("still served " + std::to_string(i)));
    client fresh(e->port());
    EXPECT_TRUE(fresh.round_trip("new clients too"));
  }
  ::close(used);
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 15s)), "exited 0") << e->log();
}

// ---- crashes ----

TEST_P(process_test, a_worker_killed_with_sigkill_is_replaced_and_the_other_keeps_serving) {
  auto e = start({"--set", "processes=2", "--set", "threads=1"});
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  const auto workers = e->workers();
  std::map<pid_t, std::vector<client>> by_worker;
  for (int i = 0; i < 64 && (by_worker[workers[0]].empty() || by_worker[workers[1]].empty()); ++i) {
    client c(e->port());
    ASSERT_TRUE(c.round_trip("which worker?"));
    const pid_t owner = server_side_owner(c.fd(), e->port(), workers);
    ASSERT_NE(owner, -1);
    by_worker[owner].push_back(std::move(c));
  }
  ASSERT_FALSE(by_worker[workers[0]].empty());
  ASSERT_FALSE(by_worker[workers[1]].empty());

  const pid_t victim = workers[0];
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  ASSERT_TRUE(e->wait_log("worker \\d \\(pid " + std::to_string(victim) +
                          "\\) exited: killed by SIGKILL; respawning in 100 ms"))
      << e->log();
  for (auto& c : by_worker[workers[1]]) EXPECT_TRUE(c.round_trip("unaffected"));
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  const auto now = e->workers();
  EXPECT_EQ(std::count(now.begin(), now.end(), victim), 0);
  EXPECT_EQ(std::count(now.begin(), now.end(), workers[1]), 1);
  client fresh(e->port());
  EXPECT_TRUE(fresh.round_trip("served by either"));
  for (auto& c : by_worker[workers[1]]) EXPECT_TRUE(c.round_trip("still unaffected"));
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 10s)), "exited 0") << e->log();
}

TEST_P(process_test, a_worker_that_cannot_start_is_not_respawned_and_echod_exits_1) {
  // 16 threads need at least 32 descriptors for their reactors; 24 cannot hold them.
  std::string cmd = "ulimit -n 24 && exec " + build_path("server/echod");
  for (const auto& a : base_args(GetParam())) cmd += " '" + a + "'";
  cmd += " --set processes=2 --set threads=16";
  child_process p({"/bin/sh", "-c", cmd});
  const auto status = p.wait_exit(15s);
  p.wait_for_stderr("(?!)", 5s);  // the whole log: returns once stderr has closed
  const std::string log = p.stderr_text();
  EXPECT_EQ(exit_of(status), "exited 1") << log;
  EXPECT_NE(log.find("cannot start"), std::string::npos) << log;
  EXPECT_NE(log.find("not respawning it in a loop"), std::string::npos) << log;
  EXPECT_EQ(log.find("respawning in"), std::string::npos) << log;
}

// ---- counters ----

TEST_P(process_test, sigusr1_logs_the_summed_counters) {
  auto e = start({"--set", "processes=2", "--set", "threads=2"});
  ASSERT_TRUE(e->wait_workers(2)) << e->log();
  for (int i = 0; i < 3; ++i) {
    client c(e->port());
    ASSERT_TRUE(c.round_trip("0123456789"));
  }
  const std::string want =
      "stats: connections: accepted 3, active 0, closed 3; bytes: in 30, "
      "out 30; errors: reset 0, idle timeout 0, header timeout 0, body timeout 0, other 0; "
      "closed: keep-alive timeout 0, overload 0";
  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {  // the workers count the closes a moment later
    e->proc().signal(SIGUSR1);
    seen = e->wait_log(want, 200ms).has_value();
  }
  EXPECT_TRUE(seen) << e->log();
  EXPECT_EQ(exit_of(e->stop(SIGTERM, 10s)), "exited 0") << e->log();
}

ECHOD_INSTANTIATE_BACKENDS(process_test);

}  // namespace
}  // namespace echod::testing
