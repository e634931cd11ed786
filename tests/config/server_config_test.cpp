// echod's server config: defaults, the shipped config/echod.json, round trips through to_json,
// every field's validation with the exact message, overrides, and file errors.
#include "config/server_config.hpp"

#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace echod::config {
namespace {

using namespace std::chrono_literals;

#ifndef ECHOD_SOURCE_ROOT
#error "tests/config/meson.build must define ECHOD_SOURCE_ROOT"
#endif

server_config parse(std::string_view text, const std::vector<std::string>& overrides = {}) {
  return parse_server_config(text, "echod.json", overrides);
}

std::string error_of(std::string_view text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(server_config, empty_object_gives_the_defaults) {
  const server_config c = parse("{}");
  EXPECT_EQ(c, server_config{});
  EXPECT_EQ(c.listen, std::vector<std::string>{"0.0.0.0:7007"});
  EXPECT_EQ(c.service, service_kind::upper);
  EXPECT_EQ(c.backend, backend_kind::automatic);
  EXPECT_EQ(c.processes, 0U);
  EXPECT_EQ(c.threads, 1U);
  EXPECT_EQ(c.coroutines, 4096U);
  EXPECT_EQ(c.stack_size, 65536U);
  EXPECT_EQ(c.buffer_size, 65536U);
  EXPECT_EQ(c.idle_timeout, 300s);
  EXPECT_EQ(c.shutdown_timeout, 10s);
  EXPECT_EQ(c.backlog, 4096U);
  EXPECT_TRUE(c.tcp_nodelay);
  EXPECT_EQ(c.io_uring_entries, 1024U);
  EXPECT_TRUE(c.io_uring_multishot);
  EXPECT_TRUE(c.io_uring_recv_bundles);
  EXPECT_EQ(c.io_uring_buffers, 512U);
  EXPECT_EQ(c.io_uring_buffer_size, 16384U);
  EXPECT_EQ(c.cpu_affinity, cpu_affinity_mode::none);
  EXPECT_TRUE(c.cpus.empty());
  EXPECT_EQ(c.log_level, log_level::info);
  EXPECT_EQ(c.http.max_header_bytes, 8192U);
  EXPECT_EQ(c.http.max_body_bytes, 1U << 20);
  EXPECT_EQ(c.admin, "") << "the admin endpoint is off unless configured";
  EXPECT_EQ(c.pid_file, "") << "no PID file unless configured";
  EXPECT_EQ(c.upgrade_timeout, 30s);
}

// The shipped file turns the admin endpoint on (loopback only); every other field is the default.
server_config shipped_values() {
  server_config c;
  c.admin = "127.0.0.1:7008";
  return c;
}

TEST(server_config, shipped_file_spells_out_the_defaults_and_enables_admin_on_loopback) {
  const server_config c = load_server_config(ECHOD_SOURCE_ROOT "/config/echod.json");
  EXPECT_EQ(c, shipped_values()) << to_json(c);
}

TEST(server_config, shipped_file_lists_every_field_explicitly) {
  // Same members, same spelling ("64KiB", "auto") as --print-config, whatever the whitespace.
  std::ifstream file(ECHOD_SOURCE_ROOT "/config/echod.json");
  ASSERT_TRUE(file) << "cannot open config/echod.json";
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(nlohmann::json::parse(text), nlohmann::json::parse(to_json(shipped_values())));
}

TEST(server_config, to_json_prints_every_field_in_order) {
  const std::string text = to_json(server_config{});
  EXPECT_TRUE(text.starts_with("{\n  \"listen\": \"0.0.0.0:7007\",\n  \"service\": \"upper\",\n"))
      << text;
  for (const char* line :
       {R"("processes": "auto")", R"("threads": 1)", R"("stack_size": "64KiB")",
        R"("idle_timeout": 300,)", R"("cpu_affinity": "none")", R"("max_body_bytes": "1MiB")"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(server_config, round_trips_through_to_json) {
  server_config c;
  c.listen = {"127.0.0.1:0", "[::1]:7008", ":7009"};
  c.service = service_kind::http;
  c.backend = backend_kind::epoll;
  c.processes = 4;
  c.threads = 0;
  c.coroutines = 1;
  c.stack_size = 16 << 10;
  c.buffer_size = 1000;
  c.idle_timeout = 0s;
  c.shutdown_timeout = 2750ms;
  c.backlog = 65535;
  c.tcp_nodelay = false;
  c.io_uring_entries = 8;
  c.io_uring_multishot = false;
  c.io_uring_recv_bundles = false;
  c.io_uring_buffers = 1;
  c.io_uring_buffer_size = 1 << 20;
  c.cpu_affinity = cpu_affinity_mode::list;
  c.cpus = {3, 0, 7};
  c.log_level = log_level::off;
  c.http.max_header_bytes = 256;
  c.http.max_body_bytes = 0;
  c.http.header_timeout = 0s;
  c.http.body_timeout = 2500ms;
  c.http.body_min_rate = 0;
  c.http.keepalive_timeout = 250ms;
  c.overload.enabled = false;
  c.overload.threshold_percent = 100;
  c.overload.idle_grace = 0s;
  c.admin = "[::1]:0";
  c.pid_file = "/run/echod/echod.pid";
  c.upgrade_timeout = 1500ms;
  EXPECT_EQ(parse(to_json(c)), c) << to_json(c);

  server_config automatic;
  automatic.cpu_affinity = cpu_affinity_mode::automatic;
  automatic.idle_timeout = 1ms;
  EXPECT_EQ(parse(to_json(automatic)), automatic) << to_json(automatic);
  EXPECT_EQ(parse(to_json(server_config{})), server_config{});
}

TEST(server_config, accepts_every_field_form) {
  const server_config c = parse(R"({
    "listen": ["0.0.0.0:1", "[::]:1", "localhost:0", "127.0.0.1:0"],
    "processes": 256, "threads": "auto", "coroutines": 1000000,
    "stack_size": "64MiB", "buffer_size": 512, "idle_timeout": "5m", "shutdown_timeout": 0.5,
    "io_uring_entries": 32768, "cpu_affinity": "auto", "log_level": "trace",
    "http": {"max_header_bytes": "1MiB", "max_body_bytes": "1GiB"}})");
  EXPECT_EQ(c.listen.size(), 4U);
  EXPECT_EQ(c.processes, 256U);
  EXPECT_EQ(c.threads, 0U);
  EXPECT_EQ(c.stack_size, 64U << 20);
  EXPECT_EQ(c.idle_timeout, 300s);
  EXPECT_EQ(c.io_uring_entries, 32768U);
  EXPECT_EQ(c.cpu_affinity, cpu_affinity_mode::automatic);
  EXPECT_EQ(c.http.max_body_bytes, 1U << 30);
  EXPECT_EQ(parse(R"({"listen": "[::1]:7007"})").listen, std::vector<std::string>{"[::1]:7007"});
  EXPECT_EQ(parse(R"({"cpu_affinity": [2, 0]})").cpus, (std::vector<int>{2, 0}));
  EXPECT_EQ(parse(R"({"cpu_affinity": [1023]})").cpu_affinity, cpu_affinity_mode::list);
}

TEST(server_config, unknown_keys_including_nested) {
  EXPECT_EQ(error_of(R"({"http": {"max_bodybytes": 1}})"),
            "echod.json: http.max_bodybytes: unknown key (known: max_header_bytes, max_body_bytes, "
            "header_timeout, body_timeout, body_min_rate, keepalive_timeout)");
  EXPECT_EQ(error_of(R"({"proceses": 4})"),
            "echod.json: proceses: unknown key (known: listen, service, backend, processes, "
            "threads, coroutines, stack_size, buffer_size, idle_timeout, shutdown_timeout, "
            "backlog, tcp_nodelay, io_uring_entries, io_uring_multishot, io_uring_recv_bundles, "
            "io_uring_buffers, io_uring_buffer_size, cpu_affinity, log_level, http, overload, "
            "admin, pid_file, upgrade_timeout)");
  EXPECT_EQ(error_of(R"({"overload": {"grace": 1}})"),
            "echod.json: overload.grace: unknown key (known: enabled, threshold_percent, "
            "idle_grace)");
}

TEST(server_config, wrong_types) {
  EXPECT_EQ(error_of(R"({"processes": "four"})"),
            R"(echod.json: processes: expected an integer or "auto", got string "four")");
  EXPECT_EQ(error_of(R"({"coroutines": "auto"})"),
            R"(echod.json: coroutines: expected an integer, got string "auto")");
  EXPECT_EQ(error_of(R"({"tcp_nodelay": "false"})"),
            R"(echod.json: tcp_nodelay: expected true or false, got string "false")");
  EXPECT_EQ(
      error_of(R"({"listen": 7007})"),
      R"(echod.json: listen: expected a "host:port" string or an array of them, got number 7007)");
  EXPECT_EQ(error_of(R"({"listen": ["0.0.0.0:1", 2]})"),
            R"(echod.json: listen[1]: expected a "host:port" string, got number 2)");
  EXPECT_EQ(error_of(R"({"http": "big"})"),
            R"(echod.json: http: expected an object, got string "big")");
  EXPECT_EQ(
      error_of(R"({"cpu_affinity": 3})"),
      R"(echod.json: cpu_affinity: expected "none", "auto" or an array of CPU ids, got number 3)");
  EXPECT_EQ(error_of(R"({"cpu_affinity": [0, "1"]})"),
            R"(echod.json: cpu_affinity[1]: expected a CPU id (an integer), got string "1")");
  EXPECT_EQ(
      error_of(R"({"idle_timeout": null})"),
      R"(echod.json: idle_timeout: expected a number of seconds or a duration string like "500ms", got null)");
}

TEST(server_config, http_deadlines_and_overload) {
  const server_config c = parse(R"({
    "http": {"header_timeout": "10s", "body_timeout": 0, "body_min_rate": "4KiB",
             "keepalive_timeout": "1m"},
    "overload": {"enabled": false, "threshold_percent": 75, "idle_grace": "250ms"}})");
  EXPECT_EQ(c.http.header_timeout, 10s);
  EXPECT_EQ(c.http.body_timeout, 0s);
  EXPECT_EQ(c.http.body_min_rate, 4096U);
  EXPECT_EQ(c.http.keepalive_timeout, 60s);
  EXPECT_FALSE(c.overload.enabled);
  EXPECT_EQ(c.overload.threshold_percent, 75U);
  EXPECT_EQ(c.overload.idle_grace, 250ms);
  EXPECT_EQ(parse("{}", {"overload.threshold_percent=100"}).overload.threshold_percent, 100U);
  EXPECT_EQ(error_of(R"({"overload": {"threshold_percent": 0}})"),
            "echod.json: overload.threshold_percent: must be between 1 and 100, got 0");
  EXPECT_EQ(error_of(R"({"overload": {"threshold_percent": 101}})"),
            "echod.json: overload.threshold_percent: must be between 1 and 100, got 101");
  EXPECT_EQ(error_of(R"({"overload": {"idle_grace": -1}})"),
            "echod.json: overload.idle_grace: must be between 0 and 31536000 seconds, got -1");
  EXPECT_EQ(error_of(R"({"http": {"keepalive_timeout": 0}})"),
            "echod.json: http.keepalive_timeout: must be greater than 0 and at most 31536000 "
            "seconds, got 0");
  EXPECT_EQ(error_of(R"({"http": {"header_timeout": "soon"}})")
                .rfind("echod.json: http.header_timeout: ", 0),
            0U);
  EXPECT_EQ(error_of(R"({"overload": true})"),
            "echod.json: overload: expected an object, got boolean true");
}

TEST(server_config, out_of_range) {
  EXPECT_EQ(error_of(R"({"threads": 0})"), "echod.json: threads: must be between 1 and 256, got 0");
  EXPECT_EQ(error_of(R"({"processes": 257})"),
            "echod.json: processes: must be between 1 and 256, got 257");
  EXPECT_EQ(error_of(R"({"coroutines": 1000001})"),
            "echod.json: coroutines: must be between 1 and 1000000, got 1000001");
  EXPECT_EQ(error_of(R"({"stack_size": "8KiB"})"),
            R"(echod.json: stack_size: must be between 16KiB and 64MiB, got "8KiB")");
  EXPECT_EQ(error_of(R"({"buffer_size": "32MiB"})"),
            R"(echod.json: buffer_size: must be between 512B and 16MiB, got "32MiB")");
  EXPECT_EQ(error_of(R"({"idle_timeout": -1})"),
            "echod.json: idle_timeout: must be between 0 and 31536000 seconds, got -1");
  EXPECT_EQ(error_of(R"({"shutdown_timeout": 0})"),
            "echod.json: shutdown_timeout: must be greater than 0 and at most 31536000 seconds, "
            "got 0");
  EXPECT_EQ(error_of(R"({"upgrade_timeout": "0s"})"),
            "echod.json: upgrade_timeout: must be greater than 0 and at most 31536000 seconds, "
            "got \"0s\"");
  EXPECT_EQ(error_of(R"({"backlog": 65536})"),
            "echod.json: backlog: must be between 1 and 65535, got 65536");
  EXPECT_EQ(error_of(R"({"io_uring_entries": 4})"),
            "echod.json: io_uring_entries: must be between 8 and 32768, got 4");
  EXPECT_EQ(error_of(R"({"io_uring_entries": 1000})"),
            "echod.json: io_uring_entries: must be a power of two, got 1000");
  EXPECT_EQ(error_of(R"({"io_uring_buffers": 0})"),
            "echod.json: io_uring_buffers: must be between 1 and 32768, got 0");
  EXPECT_EQ(error_of(R"({"io_uring_buffers": 100})"),
            "echod.json: io_uring_buffers: must be a power of two, got 100");
  EXPECT_EQ(error_of(R"({"io_uring_buffer_size": "2MiB"})"),
            R"(echod.json: io_uring_buffer_size: must be between 512B and 1MiB, got "2MiB")");
  EXPECT_EQ(error_of(R"({"io_uring_multishot": "no"})").substr(0, 31),
            "echod.json: io_uring_multishot:");
  EXPECT_EQ(error_of(R"({"cpu_affinity": [0, -1]})"),
            "echod.json: cpu_affinity[1]: must be between 0 and 1023, got -1");
  EXPECT_EQ(error_of(R"({"cpu_affinity": [1024]})"),
            "echod.json: cpu_affinity[0]: must be between 0 and 1023, got 1024");
  EXPECT_EQ(
      error_of(R"({"cpu_affinity": []})"),
      R"(echod.json: cpu_affinity: must not be empty: list at least one CPU id, or use "none")");
  EXPECT_EQ(error_of(R"({"cpu_affinity": [1, 2, 1]})"),
            "echod.json: cpu_affinity[2]: CPU 1 is already listed at cpu_affinity[0]");
  EXPECT_EQ(error_of(R"({"http": {"max_header_bytes": 255}})"),
            "echod.json: http.max_header_bytes: must be between 256B and 1MiB, got 255");
  EXPECT_EQ(error_of(R"({"http": {"max_body_bytes": "2GiB"}})"),
            R"(echod.json: http.max_body_bytes: must be between 0B and 1GiB, got "2GiB")");
}

TEST(server_config, bad_enums) {
  EXPECT_EQ(error_of(R"({"backend": "uring"})"),
            R"(echod.json: backend: must be one of auto, io_uring, epoll, got "uring")");
  EXPECT_EQ(error_of(R"({"service": "UPPER"})"),
            R"(echod.json: service: must be one of upper, echo, http, got "UPPER")");
  EXPECT_EQ(
      error_of(R"({"log_level": "warning"})"),
      R"(echod.json: log_level: must be one of trace, debug, info, warn, error, off, got "warning")");
  EXPECT_EQ(
      error_of(R"({"cpu_affinity": "all"})"),
      R"(echod.json: cpu_affinity: must be one of none, auto (or an array of CPU ids), got "all")");
}

TEST(server_config, bad_listen_entries) {
  EXPECT_EQ(
      error_of(R"({"listen": ["0.0.0.0:7007", "foo"]})"),
      R"(echod.json: listen[1]: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "foo")");
  EXPECT_EQ(
      error_of(R"({"listen": "foo"})"),
      R"(echod.json: listen: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "foo")");
  EXPECT_EQ(
      error_of(R"({"listen": ["1.2.3.4:70000"]})"),
      R"(echod.json: listen[0]: port must be a number between 0 and 65535, got "1.2.3.4:70000")");
  EXPECT_EQ(error_of(R"({"listen": []})"),
            R"(echod.json: listen: must not be empty: give at least one "host:port")");
}

TEST(server_config, duplicate_listen_entries) {
  EXPECT_EQ(error_of(R"({"listen": ["0.0.0.0:1", "[::1]:2", "0.0.0.0:1"]})"),
            R"(echod.json: listen[2]: "0.0.0.0:1" is the same address as listen[0] ("0.0.0.0:1"))");
  // Written differently, same socket.
  EXPECT_EQ(error_of(R"({"listen": [":7007", "*:7007"]})"),
            R"(echod.json: listen[1]: "*:7007" is the same address as listen[0] (":7007"))");
  EXPECT_EQ(error_of(R"({"listen": ["[::1]:9", "[0::1]:9"]})"),
            R"(echod.json: listen[1]: "[0::1]:9" is the same address as listen[0] ("[::1]:9"))");
  // Ephemeral ports never collide; different families or ports are different sockets.
  EXPECT_EQ(error_of(R"({"listen": ["127.0.0.1:0", "127.0.0.1:0", "[::]:7007", ":7007"]})"), "");
}

TEST(server_config, admin_endpoint) {
  EXPECT_EQ(parse(R"({"admin": "127.0.0.1:7008"})").admin, "127.0.0.1:7008");
  EXPECT_EQ(parse(R"({"admin": "[::1]:0"})").admin, "[::1]:0");
  EXPECT_EQ(parse(R"({"admin": null})").admin, "");
  EXPECT_EQ(parse(R"({"admin": ""})").admin, "");
  EXPECT_EQ(parse("{}", {"admin=localhost:9100"}).admin, "localhost:9100");
  EXPECT_EQ(parse(R"({"admin": "127.0.0.1:1"})", {"admin=null"}).admin, "");
  EXPECT_EQ(parse(R"({"admin": "127.0.0.1:1"})", {"admin="}).admin, "");
  // Port 0 never collides, even with a port-0 listener on the same host.
  EXPECT_EQ(parse(R"({"listen": "127.0.0.1:0", "admin": "127.0.0.1:0"})").admin, "127.0.0.1:0");

  EXPECT_EQ(
      error_of(R"({"admin": 7008})"),
      R"(echod.json: admin: expected a "host:port" string, "" or null (disabled), got number 7008)");
  EXPECT_EQ(
      error_of(R"({"admin": ["127.0.0.1:1"]})"),
      R"(echod.json: admin: expected a "host:port" string, "" or null (disabled), got array ["127.0.0.1:1"])");
  EXPECT_EQ(
      error_of(R"({"admin": "metrics"})"),
      R"(echod.json: admin: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "metrics")");
  EXPECT_EQ(
      error_of(R"({"admin": "127.0.0.1:65536"})"),
      R"(echod.json: admin: port must be a number between 0 and 65535, got "127.0.0.1:65536")");
  EXPECT_EQ(
      error_of("{}", {"admin=nowhere"}),
      R"(--set: admin: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "nowhere")");
  EXPECT_EQ(
      error_of(R"({"listen": [":7007", "127.0.0.1:7008"], "admin": "localhost:7008"})"),
      R"(echod.json: admin: "localhost:7008" is the same address as listen entry "127.0.0.1:7008": the admin endpoint needs its own port)");
  EXPECT_EQ(
      error_of(R"({"admin": "*:7007"})"),
      R"(echod.json: admin: "*:7007" is the same address as listen entry "0.0.0.0:7007": the admin endpoint needs its own port)");
}

TEST(server_config, pid_file) {
  EXPECT_EQ(parse(R"({"pid_file": "/run/echod/echod.pid"})").pid_file, "/run/echod/echod.pid");
  EXPECT_EQ(parse(R"({"pid_file": "echod.pid"})").pid_file, "echod.pid");
  EXPECT_EQ(parse(R"({"pid_file": null})").pid_file, "");
  EXPECT_EQ(parse(R"({"pid_file": ""})").pid_file, "");
  EXPECT_EQ(parse("{}", {"pid_file=/tmp/e.pid"}).pid_file, "/tmp/e.pid");

  EXPECT_EQ(
      error_of(R"({"pid_file": 1})"),
      R"(echod.json: pid_file: expected a file path string, "" or null (none), got number 1)");
  EXPECT_EQ(error_of(R"({"pid_file": "/run/echod/"})"),
            R"(echod.json: pid_file: must name a file, not a directory, got "/run/echod/")");
  EXPECT_EQ(error_of(R"({"pid_file": "/run/a\u0000b"})"),
            "echod.json: pid_file: must not contain a NUL byte");
}

TEST(server_config, admin_prints_as_null_when_disabled) {
  EXPECT_NE(to_json(server_config{}).find("\"admin\": null"), std::string::npos);
  server_config c;
  c.admin = "127.0.0.1:7008";
  EXPECT_NE(to_json(c).find("\"admin\": \"127.0.0.1:7008\""), std::string::npos);
}

TEST(server_config, json_syntax_errors_name_line_and_column) {
  // The missing comma is noticed at the end of the next token: line 3, column 11.
  EXPECT_EQ(error_of("{\n  \"processes\": 4\n  \"threads\": 2\n}"),
            "echod.json:3:11: invalid JSON: syntax error while parsing object - unexpected string "
            "literal; expected '}'");
  try {
    parse_server_config("", "<string>");
    FAIL() << "an empty document is not {}";
  } catch (const config_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("<string>:1:1: invalid JSON: ")) << e.what();
  }
}

TEST(server_config, missing_and_unreadable_files) {
  try {
    load_server_config("/nonexistent/echod.json");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/echod.json: cannot read: No such file or directory");
  }
}

TEST(server_config, overrides) {
  const server_config c =
      parse(R"({"processes": 2, "http": {"max_header_bytes": 1024}})",
            {"processes=4", "backend=epoll", "http.max_body_bytes=64KiB", "tcp_nodelay=false",
             R"(listen=["127.0.0.1:1","[::1]:2"])", "cpu_affinity=[0,1]", "idle_timeout=1.5"});
  EXPECT_EQ(c.processes, 4U);
  EXPECT_EQ(c.backend, backend_kind::epoll);
  EXPECT_EQ(c.http.max_body_bytes, 64U << 10);
  EXPECT_EQ(c.http.max_header_bytes, 1024U);  // the file's sibling survives a nested override
  EXPECT_FALSE(c.tcp_nodelay);
  EXPECT_EQ(c.listen, (std::vector<std::string>{"127.0.0.1:1", "[::1]:2"}));
  EXPECT_EQ(c.cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.idle_timeout, 1500ms);
  EXPECT_EQ(parse("{}", {"listen=127.0.0.1:9"}).listen, std::vector<std::string>{"127.0.0.1:9"});
  EXPECT_EQ(parse("{}", {"processes=auto"}).processes, 0U);
}

TEST(server_config, override_errors_name_the_path_and_blame_set) {
  EXPECT_EQ(error_of("{}", {"threads=0"}), "--set: threads: must be between 1 and 256, got 0");
  EXPECT_EQ(error_of("{}", {"backend=uring"}),
            R"(--set: backend: must be one of auto, io_uring, epoll, got "uring")");
  EXPECT_EQ(error_of("{}", {"http.max_bodybytes=1"}),
            "--set: http.max_bodybytes: unknown key (known: max_header_bytes, max_body_bytes, "
            "header_timeout, body_timeout, body_min_rate, keepalive_timeout)");
  EXPECT_EQ(
      error_of("{}", {R"(listen=["0.0.0.0:1","foo"])"}),
      R"(--set: listen[1]: expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got "foo")");
  EXPECT_EQ(error_of("{}", {"processes"}),
            R"(--set: expected key=value (e.g. processes=4), got "processes")");
  EXPECT_EQ(error_of(R"({"http": 1})", {"http.max_body_bytes=1"}),
            "--set: http.max_body_bytes: cannot set a member of http, which is number 1");
}

TEST(server_config, resolved_counts) {
  const unsigned cpus = std::max(1U, std::thread::hardware_concurrency());
  server_config c;
  EXPECT_EQ(resolved_processes(c), cpus);
  EXPECT_EQ(resolved_threads(c), 1U);
  c.processes = 3;
  c.threads = 0;
  EXPECT_EQ(resolved_processes(c), 3U);
  EXPECT_EQ(resolved_threads(c), cpus);
}

}  // namespace
}  // namespace echod::config
