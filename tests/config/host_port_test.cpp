// "host:port" syntax: every accepted form, canonical forms for duplicate detection, and the
// reason given for each kind of mistake.
#include "config/host_port.hpp"

#include <gtest/gtest.h>

namespace echod::config {
namespace {

std::string canonical(std::string_view text) {
  const auto parsed = parse_host_port(text);
  return parsed ? parsed->canonical() : "<invalid>";
}

std::string why(std::string_view text) {
  const auto parsed = parse_host_port(text);
  EXPECT_FALSE(parsed) << text;
  return parsed ? "<valid>" : parsed.error();
}

TEST(host_port, accepts_every_documented_form) {
  EXPECT_EQ(canonical("0.0.0.0:7007"), "0.0.0.0:7007");
  EXPECT_EQ(canonical("127.0.0.1:80"), "127.0.0.1:80");
  EXPECT_EQ(canonical(":7007"), "0.0.0.0:7007");
  EXPECT_EQ(canonical("*:7007"), "0.0.0.0:7007");
  EXPECT_EQ(canonical("localhost:7007"), "127.0.0.1:7007");
  EXPECT_EQ(canonical("[::1]:7007"), "[::1]:7007");
  EXPECT_EQ(canonical("[::]:1"), "[::]:1");
  EXPECT_EQ(canonical("[0:0:0:0:0:0:0:1]:7007"), "[::1]:7007");
  EXPECT_EQ(canonical("[::ffff:1.2.3.4]:9"), "[::ffff:1.2.3.4]:9");
}

TEST(host_port, ports_cover_0_to_65535) {
  const auto zero = parse_host_port("127.0.0.1:0");
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->port, 0);
  EXPECT_FALSE(zero->ipv6);
  const auto top = parse_host_port("[::1]:65535");
  ASSERT_TRUE(top);
  EXPECT_EQ(top->port, 65535);
  EXPECT_TRUE(top->ipv6);
  EXPECT_EQ(top->host, "::1");
}

TEST(host_port, malformed_text_gets_the_generic_hint) {
  const std::string hint = R"(expected "host:port" (e.g. "0.0.0.0:7007" or "[::1]:7007"), got )";
  EXPECT_EQ(why("foo"), hint + "\"foo\"");
  EXPECT_EQ(why(""), hint + "\"\"");
  EXPECT_EQ(why("7007"), hint + "\"7007\"");
  EXPECT_EQ(why("[::1]"), hint + "\"[::1]\"");
  EXPECT_EQ(why("[::1]7007"), hint + "\"[::1]7007\"");
  EXPECT_EQ(why("[::1:7007"), hint + "\"[::1:7007\"");
}

TEST(host_port, bad_ports) {
  const std::string reason = "port must be a number between 0 and 65535, got ";
  EXPECT_EQ(why("0.0.0.0:65536"), reason + "\"0.0.0.0:65536\"");
  EXPECT_EQ(why("0.0.0.0:"), reason + "\"0.0.0.0:\"");
  EXPECT_EQ(why("0.0.0.0:-1"), reason + "\"0.0.0.0:-1\"");
  EXPECT_EQ(why("0.0.0.0:http"), reason + "\"0.0.0.0:http\"");
  EXPECT_EQ(why("0.0.0.0:100000"), reason + "\"0.0.0.0:100000\"");
  EXPECT_EQ(why("0.0.0.0: 80"), reason + "\"0.0.0.0: 80\"");
  EXPECT_EQ(why("[::1]:"), reason + "\"[::1]:\"");
}

TEST(host_port, bad_hosts) {
  EXPECT_EQ(why("example.com:80"),
            R"(host must be an IPv4 address, an IPv6 address in brackets, "localhost", "*" or )"
            R"(empty, got "example.com:80")");
  EXPECT_NE(why("1.2.3:80").find("host must be"), std::string::npos);
  EXPECT_NE(why("256.1.1.1:80").find("host must be"), std::string::npos);
  EXPECT_NE(why(" 1.2.3.4:80").find("host must be"), std::string::npos);
  EXPECT_NE(why("LOCALHOST:80").find("host must be"), std::string::npos);
  EXPECT_EQ(why("::1:80"),
            R"(an IPv6 address must be in brackets, e.g. "[::1]:7007", got "::1:80")");
  EXPECT_EQ(why("[1.2.3.4]:80"),
            R"(expected an IPv6 address inside [brackets], got "[1.2.3.4]:80")");
  EXPECT_NE(why("[fe80::1%eth0]:80").find("IPv6"), std::string::npos);
}

}  // namespace
}  // namespace echod::config
