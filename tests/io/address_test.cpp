// Address parsing and formatting, and backend names and resolution.
#include "io/address.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "io/backend.hpp"

namespace echod::io {
namespace {

TEST(address, parses_and_formats_ipv4_ipv6_and_shorthands) {
  EXPECT_EQ(address::parse("127.0.0.1:7007")->to_string(), "127.0.0.1:7007");
  EXPECT_EQ(address::parse("[::1]:80")->to_string(), "[::1]:80");
  EXPECT_EQ(address::parse(":7007")->to_string(), "0.0.0.0:7007");
  EXPECT_EQ(address::parse("*:1")->to_string(), "0.0.0.0:1");
  EXPECT_EQ(address::parse("localhost:9")->to_string(), "127.0.0.1:9");
  EXPECT_EQ(address::parse("[::]:0")->port(), 0);
}

// The reason `text` is refused ("<valid>", and a failed expectation, when it parses).
std::string why(std::string_view text) {
  const auto parsed = address::parse(text);
  EXPECT_FALSE(parsed) << text;
  return parsed ? "<valid>" : parsed.error();
}

TEST(address, rejects_bad_input_and_says_why) {
  using testing::HasSubstr;
  EXPECT_THAT(why("127.0.0.1"), HasSubstr("host:port"));
  EXPECT_THAT(why("127.0.0.1:65536"), HasSubstr("port must be a number between 0 and 65535"));
  EXPECT_FALSE(address::parse(":000007007"));  // the config check's grammar: 5 digits at most
  EXPECT_FALSE(address::parse("1.2.3:80"));
  EXPECT_THAT(why("::1:80"), HasSubstr("brackets"));  // IPv6 needs brackets
  EXPECT_FALSE(address::parse("[zz]:80"));
  EXPECT_FALSE(address::parse("host:"));
}

TEST(backend, names_parse_and_resolution_is_consistent_with_the_probe) {
  EXPECT_EQ(config::parse_choice<backend_kind>("auto"), backend_kind::automatic);
  EXPECT_EQ(config::parse_choice<backend_kind>("io_uring"), backend_kind::io_uring);
  EXPECT_EQ(config::parse_choice<backend_kind>("epoll"), backend_kind::epoll);
  EXPECT_FALSE(config::parse_choice<backend_kind>("kqueue"));
  EXPECT_STREQ(backend_name(backend_kind::io_uring), "io_uring");
  EXPECT_EQ(*resolve_backend(backend_kind::epoll), backend_kind::epoll);
  const auto& probe = probe_io_uring();
  const auto forced = resolve_backend(backend_kind::io_uring);
  const auto automatic = resolve_backend(backend_kind::automatic);
  ASSERT_TRUE(automatic) << "\"auto\" always resolves";
  if (probe.usable) {
    ASSERT_TRUE(forced) << forced.error();
    EXPECT_EQ(*forced, backend_kind::io_uring);
    EXPECT_EQ(*automatic, backend_kind::io_uring);
    EXPECT_NE(describe_backend(backend_kind::io_uring).find("io_uring ("), std::string::npos);
  } else {
    ASSERT_FALSE(forced);
    EXPECT_THAT(forced.error(), testing::HasSubstr("not available"));
    EXPECT_EQ(*automatic, backend_kind::epoll);
    EXPECT_FALSE(probe.reason.empty());
  }
}

}  // namespace
}  // namespace echod::io
