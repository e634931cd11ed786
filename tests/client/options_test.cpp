// echoload's options: defaults, the JSON config keys and their checks (errors name the source and
// the JSON path), flags over the config file, and the printed config reading back the same.
#include "client/options.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "client/cli.hpp"
#include "config/config_error.hpp"
#include "temp_file.hpp"

namespace echod::client {
namespace {

using namespace std::chrono_literals;
using testing::temp_file;

std::string read_error(const std::string& json_text) {
  options o;
  try {
    read_options(json_text, "test.json", o);
  } catch (const config::config_error& e) {
    return e.what();
  }
  return "(no error)";
}

command_line parse(std::vector<std::string> args) {
  args.insert(args.begin(), "echoload");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(options, an_empty_object_gives_the_documented_defaults) {
  options o;
  read_options("{}", "test.json", o);
  EXPECT_EQ(o.threads, 2u);
  EXPECT_EQ(o.connections, 100u);
  EXPECT_EQ(o.duration, 10s);
  EXPECT_EQ(o.messages, 0u);
  EXPECT_EQ(o.size, 64u);
  EXPECT_EQ(o.payload, "ascii");
  EXPECT_EQ(o.pipeline, 1u);
  EXPECT_EQ(o.rate, 0.0);
  EXPECT_EQ(o.connect_rate, 0.0);
  EXPECT_EQ(o.warmup, 0s);
  EXPECT_EQ(o.timeout, 5s);
  EXPECT_TRUE(o.source.empty());
  EXPECT_EQ(o.expect, "upper");
  EXPECT_EQ(o.backend, config::backend_kind::automatic);
  EXPECT_EQ(o.progress, "auto");
  EXPECT_TRUE(o.time_limited());
}

TEST(options, every_key_reads_with_units) {
  options o;
  read_options(R"({"target":"127.0.0.1:7007","threads":4,"connections":500,"duration":"5s",
                   "messages":1000,"size":"4KiB","payload":"random","pipeline":8,"rate":2000.5,
                   "connect-rate":100,"warmup":"500ms","timeout":2,"source":"127.0.0.2,127.0.0.3",
                   "expect":"echo","backend":"epoll","json":"out.json","progress":"off"})",
               "test.json", o);
  EXPECT_EQ(o.target, "127.0.0.1:7007");
  EXPECT_EQ(o.threads, 4u);
  EXPECT_EQ(o.connections, 500u);
  EXPECT_EQ(o.duration, 5s);
  EXPECT_TRUE(o.duration_set);
  EXPECT_EQ(o.messages, 1000u);
  EXPECT_EQ(o.size, 4096u);
  EXPECT_EQ(o.payload, "random");
  EXPECT_EQ(o.pipeline, 8u);
  EXPECT_EQ(o.rate, 2000.5);
  EXPECT_EQ(o.connect_rate, 100.0);
  EXPECT_EQ(o.warmup, 500ms);
  EXPECT_EQ(o.timeout, 2s);
  EXPECT_EQ(o.source, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(o.expect, "echo");
  EXPECT_EQ(o.backend, config::backend_kind::epoll);
  EXPECT_EQ(o.json, "out.json");
  EXPECT_EQ(o.progress, "off");
}

TEST(options, source_may_be_an_array) {
  options o;
  read_options(R"({"source":["127.0.0.2","::1"]})", "test.json", o);
  EXPECT_EQ(o.source, (std::vector<std::string>{"127.0.0.2", "::1"}));
}

TEST(options, errors_name_the_source_the_path_and_the_reason) {
  EXPECT_EQ(read_error(R"({"connections":0})"),
            "test.json: connections: must be between 1 and 1000000, got 0");
  EXPECT_EQ(read_error(R"({"threads":"two"})"),
            "test.json: threads: expected an integer, got string \"two\"");
  EXPECT_NE(read_error(R"({"conections":10})").find("test.json: conections: unknown key (known: "),
            std::string::npos);
  EXPECT_NE(read_error(R"({"duration":"10"})").find("test.json: duration: invalid duration"),
            std::string::npos);
  EXPECT_NE(read_error(R"({"size":"4 KiB"})").find("test.json: size: invalid size"),
            std::string::npos);
  EXPECT_EQ(read_error(R"({"expect":"lower"})"),
            "test.json: expect: must be one of upper, echo, got \"lower\"");
  EXPECT_EQ(read_error(R"({"payload":"file:"})"),
            "test.json: payload: must be ascii, random or file:PATH, got \"file:\"");
  EXPECT_EQ(read_error(R"({"source":["127.0.0.2", 3]})"),
            "test.json: source[1]: expected an IP address string, got number 3");
  EXPECT_EQ(read_error(R"({"source":"127.0.0.2,nohost"})"),
            "test.json: source: \"nohost\" is not an IP address (e.g. 127.0.0.2 or ::1)");
  EXPECT_EQ(read_error(R"({"rate":-1})"),
            "test.json: rate: must be between 0 and 1000000000, got -1");
  EXPECT_EQ(read_error(R"({"target":"127.0.0.1:0"})"),
            "test.json: target: port 0 is not a service port: give the server's port");
  EXPECT_NE(read_error(R"({"threads":2,)").find("test.json:1:"), std::string::npos);  // syntax
  EXPECT_EQ(read_error(R"([1])").find("test.json: "), 0u);
}

TEST(options, a_failed_read_leaves_the_options_unchanged) {
  options o;
  o.connections = 7;
  EXPECT_THROW(read_options(R"({"connections":9,"threads":0})", "x", o), config::config_error);
  EXPECT_EQ(o.connections, 7u);
}

TEST(options, flags_become_typed_json) {
  EXPECT_EQ(flags_to_json({{"connections", "100"}, {"duration", "10"}, {"size", "4KiB"}}),
            R"({"connections":100,"duration":10,"size":"4KiB"})");
  EXPECT_EQ(flags_to_json({{"json", "123"}, {"target", "1.2.3.4:5"}}),
            R"({"json":"123","target":"1.2.3.4:5"})");
}

TEST(options, printed_config_reads_back_the_same) {
  options o;
  read_options(R"({"target":"127.0.0.1:7007","connections":3,"duration":"1500ms","rate":10,
                   "source":["127.0.0.2"],"size":100})",
               "a", o);
  options back;
  read_options(options_to_json(o), "b", back);
  EXPECT_EQ(options_to_json(back), options_to_json(o));
  EXPECT_EQ(back.duration, 1500ms);
  EXPECT_EQ(back.source, o.source);
}

TEST(options, validate_checks_fields_together) {
  options o;
  EXPECT_THROW(validate(o), config::config_error);  // no target
  o.target = "127.0.0.1:7007";
  EXPECT_NO_THROW(validate(o));
  o.source = {"::1"};
  EXPECT_THROW(validate(o), config::config_error);  // IPv6 source, IPv4 target
  o.source = {};
  o.messages = 10;  // fewer than the 100 connections
  EXPECT_THROW(validate(o), config::config_error);
}

TEST(command_line, flags_override_the_config_file) {
  temp_file config(R"({"target":"127.0.0.1:9","threads":3,"connections":50,"duration":"5s",
                       "expect":"echo"})");
  const command_line c = parse({"--config", config.path(), "-c", "20", "127.0.0.1:7007"});
  ASSERT_EQ(c.what, command_line::action::run) << c.err;
  EXPECT_EQ(c.run.target, "127.0.0.1:7007");
  EXPECT_EQ(c.run.threads, 3u);       // from the file
  EXPECT_EQ(c.run.connections, 20u);  // the flag wins
  EXPECT_EQ(c.run.duration, 5s);
  EXPECT_EQ(c.run.expect, "echo");
}

TEST(command_line, wrk_style_flags) {
  const command_line c =
      parse({"-t", "4", "-c", "400", "-d", "30", "--timeout", "2s", "127.0.0.1:7007"});
  ASSERT_EQ(c.what, command_line::action::run) << c.err;
  EXPECT_EQ(c.run.threads, 4u);
  EXPECT_EQ(c.run.connections, 400u);
  EXPECT_EQ(c.run.duration, 30s);  // a bare number is seconds, as in wrk
  EXPECT_EQ(c.run.timeout, 2s);
}

TEST(command_line, bad_values_are_usage_errors_naming_the_flag) {
  command_line c = parse({"-c", "0", "127.0.0.1:7007"});
  EXPECT_EQ(c.what, command_line::action::exit);
  EXPECT_EQ(c.exit_code, exit_usage);
  EXPECT_NE(c.err.find("command line: connections: must be between 1 and 1000000, got 0"),
            std::string::npos)
      << c.err;
  c = parse({"--bogus", "127.0.0.1:7007"});
  EXPECT_EQ(c.exit_code, exit_usage);
  c = parse({"-c", "10"});
  EXPECT_EQ(c.exit_code, exit_usage);
  EXPECT_NE(c.err.find("target: missing"), std::string::npos) << c.err;
}

TEST(command_line, a_bad_config_file_is_a_usage_error_naming_the_file_and_path) {
  temp_file config(R"({"connections":10,"pipline":4})");
  const command_line c = parse({"--config", config.path(), "127.0.0.1:7007"});
  EXPECT_EQ(c.exit_code, exit_usage);
  EXPECT_NE(c.err.find(config.path() + ": pipline: unknown key"), std::string::npos) << c.err;
  const command_line missing = parse({"--config", "/nonexistent/echoload.json", "127.0.0.1:1"});
  EXPECT_EQ(missing.exit_code, exit_usage);
  EXPECT_NE(missing.err.find("/nonexistent/echoload.json: cannot read"), std::string::npos)
      << missing.err;
}

TEST(command_line, help_and_version_exit_zero) {
  command_line c = parse({"--help"});
  EXPECT_EQ(c.exit_code, exit_ok);
  EXPECT_NE(c.out.find("--connect-rate"), std::string::npos);
  EXPECT_NE(c.out.find("echoload merge"), std::string::npos);
  c = parse({"--version"});
  EXPECT_EQ(c.exit_code, exit_ok);
  EXPECT_NE(c.out.find("echoload "), std::string::npos);
}

TEST(command_line, merge_takes_reports_and_json) {
  const command_line c = parse({"merge", "a.json", "b.json", "--json", "out.json"});
  ASSERT_EQ(c.what, command_line::action::merge) << c.err;
  EXPECT_EQ(c.inputs, (std::vector<std::string>{"a.json", "b.json"}));
  EXPECT_EQ(c.json, "out.json");
  EXPECT_EQ(parse({"merge"}).exit_code, exit_usage);
}

}  // namespace
}  // namespace echod::client
