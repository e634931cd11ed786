// Hostile configs against the real binary. A running echod is reloaded with a generated corpus
// (numbers beyond a double, nesting 70,000 deep, binary garbage, a 100 MB file, /dev/zero, a
// FIFO with no writer, a directory, ...): after each SIGHUP the master must still run, log
// "reload failed: <why>; keeping the current config", keep its workers, and answer on the port
// with the right bytes; a valid file afterwards still reloads. The same corpus through
// --check-config exits 2 with a message, never a crash or a hang.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "backend_param.hpp"
#include "echod_harness.hpp"
#include "regex.hpp"

namespace echod::testing {
namespace {

using namespace std::chrono_literals;

std::string valid_config(io::backend_kind backend) {
  return std::string(R"({"listen": "127.0.0.1:0", "processes": 1, "shutdown_timeout": 2, )") +
         R"("backend": ")" + io::backend_name(backend) + "\"}";
}

std::string nested(std::size_t depth, const std::string& inner = "") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// One hostile input: how to put it at the config's path, and a piece of the error it must give.
struct hostile {
  std::string name;
  std::function<void(const temp_config&)> put;
  std::string reason;
};

void put_text(const temp_config& file, const std::string& text) {
  std::remove(file.path().c_str());  // may be a FIFO or a directory from an earlier case
  file.write(text);
}

std::vector<hostile> corpus() {
  const auto text = [](std::string t) {
    return [t = std::move(t)](const temp_config& f) { put_text(f, t); };
  };
  std::string deep_objects;
  for (int i = 0; i < 70'000; ++i) deep_objects += "{\"a\":";
  deep_objects += "1" + std::string(70'000, '}');
  return {
      {"number overflow", text(R"({"idle_timeout": 1e999})"), "idle_timeout: number out of range"},
      {"negative overflow", text(R"({"shutdown_timeout": -1e400})"), "number out of range"},
      {"overflow in an array", text(R"({"cpu_affinity": [0, 1e999]})"), "cpu_affinity\\[1\\]"},
      {"300-digit integer", text("{\"backlog\": 1" + std::string(300, '0') + "}"),
       "backlog: expected an integer, got number 1e\\+300"},
      {"deep arrays", text("{\"listen\": " + nested(70'000) + "}"), "nested deeper than 64"},
      {"deep objects", text(deep_objects), "nested deeper than 64"},
      {"deep value in a message", text("{\"listen\": " + nested(60, "1") + "}"),
       "listen\\[0\\]: expected a \"host:port\" string, got array \\[\\[\\["},
      {"binary garbage", text(random_bytes(4096, 11)), "invalid JSON"},
      {"NUL bytes", text(std::string("{\"service\": \"up\0per\"}", 21)), "invalid JSON"},
      {"bad UTF-8", text("{\"service\": \"\xff\xfe\"}"), "invalid JSON"},
      {"empty file", text(""), "invalid JSON"},
      {"huge key", text("{\"" + std::string(500'000, 'k') + "\": 1}"), "kkk\\.\\.\\.: unknown key"},
      {"100 MB file",
       [](const temp_config& f) {
         put_text(f, "");
         ASSERT_EQ(::truncate(f.path().c_str(), 100'000'000), 0);
       },
       "larger than the 1MiB limit"},
      {"/dev/zero",
       [](const temp_config& f) {
         std::remove(f.path().c_str());
         ASSERT_EQ(::symlink("/dev/zero", f.path().c_str()), 0);
       },
       "larger than the 1MiB limit"},
      {"FIFO without a writer",
       [](const temp_config& f) {
         std::remove(f.path().c_str());
         ASSERT_EQ(::mkfifo(f.path().c_str(), 0600), 0);
       },
       "is a FIFO, not a regular file"},
      {"directory",
       [](const temp_config& f) {
         std::remove(f.path().c_str());
         ASSERT_EQ(::mkdir(f.path().c_str(), 0700), 0);
       },
       "cannot read: Is a directory"},
  };
}

// Waits until `pattern` occurs at least `n` times in the log.
bool wait_count(echod_process& e, const std::string& pattern, std::size_t n,
                std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (e.count_log(pattern) < n) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

class config_fault : public backend_test {};

TEST_P(config_fault, hostile_reloads_keep_the_master_serving) {
  temp_config file(valid_config(GetParam()));
  echod_process e({"-c", file.path()});
  ASSERT_NE(e.port(), 0) << e.log();
  ASSERT_TRUE(e.wait_workers(1)) << e.log();
  const auto workers = e.workers();
  client held(e.port());
  ASSERT_TRUE(held.round_trip("before"));

  const auto inputs = corpus();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const hostile& h = inputs[i];
    SCOPED_TRACE(h.name);
    const std::string this_reason = "reload failed: " + file.path() + ".*" + h.reason;
    const std::size_t before = e.count_log(this_reason);
    h.put(file);
    e.proc().signal(SIGHUP);
    ASSERT_TRUE(wait_count(e, "reload failed: .*; keeping the current config", i + 1, 20s))
        << e.log().substr(0, 20000);
    ASSERT_TRUE(e.proc().running()) << e.log().substr(0, 20000);
    EXPECT_EQ(e.count_log(this_reason), before + 1) << "want: " << h.reason << "\n"
                                                    << e.log().substr(0, 20000);
    EXPECT_EQ(e.workers(), workers);
    EXPECT_TRUE(held.round_trip("still served " + std::to_string(i)));
    client fresh(e.port());
    EXPECT_TRUE(fresh.round_trip(random_bytes(3000, static_cast<unsigned>(i))));
  }
  // No log line carries a hostile file whole.
  EXPECT_LT(e.log().size(), 64U * 1024) << "a message quoted too much";

  // And a good file still reloads.
  put_text(file, valid_config(GetParam()));
  e.proc().signal(SIGHUP);
  ASSERT_TRUE(e.wait_log("reload complete: generation 2", 20s)) << e.log();
  client after(e.port());
  EXPECT_TRUE(after.round_trip("after"))
      << e.log().substr(e.log().size() > 6000 ? e.log().size() - 6000 : 0);
  const auto status = e.stop(SIGTERM, 15s);
  ASSERT_TRUE(status) << e.log();
  EXPECT_EQ(describe_status(*status), "exited 0") << e.log();
}

ECHOD_INSTANTIATE_BACKENDS(config_fault);

TEST(config_fault_cli, check_config_exits_2_on_each_hostile_input) {
  temp_config file("{}");
  for (const hostile& h : corpus()) {
    SCOPED_TRACE(h.name);
    h.put(file);
    echod_process e({"--check-config", "-c", file.path()}, false);
    const auto status = e.proc().wait_exit(20s);
    const std::string log = e.final_log();
    ASSERT_TRUE(status) << "still running: " << log.substr(0, 2000);
    EXPECT_EQ(describe_status(*status), "exited 2") << log.substr(0, 2000);
    EXPECT_TRUE(std::regex_search(log, std::regex("echod: " + file.path() + ".*" + h.reason)))
        << "want: " << h.reason << "\n"
        << log.substr(0, 2000);
    EXPECT_LT(log.size(), 2000U);
  }
  put_text(file, "{}");
  // --set: each error names --set, whatever the value.
  const std::vector<std::pair<std::string, std::string>> sets = {
      {"processes=1e999", "echod: --set: processes: number out of range: 1e999"},
      {"http.max_body_bytes.x=1", "echod: --set: http.max_body_bytes: expected a size"},
      {"listen=" + nested(30'000), "echod: --set: listen[0]"},  // an argument holds 128 KiB
      {"http.max_body_bytes=" + nested(3), "echod: --set: http.max_body_bytes: expected a size"},
  };
  for (const auto& [set, want] : sets) {
    SCOPED_TRACE(set.substr(0, 40));
    echod_process e({"--check-config", "-c", file.path(), "--set", set}, false);
    const auto status = e.proc().wait_exit(20s);
    const std::string log = e.final_log();
    ASSERT_TRUE(status) << "still running";
    EXPECT_EQ(describe_status(*status), "exited 2") << log.substr(0, 2000);
    EXPECT_TRUE(log.starts_with(want)) << "want: " << want << "\n" << log.substr(0, 2000);
  }
}

}  // namespace
}  // namespace echod::testing
