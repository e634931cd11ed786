// Payloads: mixed-case ASCII that the uppercase transform changes, per-message variants, the
// expected replies for upper and echo, and file payloads.
#include "client/payload.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "temp_file.hpp"

namespace echod::client {
namespace {

TEST(payload, ascii_mixes_cases_and_the_expected_reply_is_uppercase) {
  const payload p = payload::make("ascii", 64, transform::upper);
  ASSERT_EQ(p.size(), 64u);
  const std::string m(p.message(0), 64);
  const std::string e(p.expected(0), 64);
  EXPECT_TRUE(std::any_of(m.begin(), m.end(), [](char c) { return std::islower(c); })) << m;
  EXPECT_TRUE(std::all_of(m.begin(), m.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
  std::string upper = m;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(e, upper);
}

TEST(payload, consecutive_messages_differ) {
  const payload p = payload::make("ascii", 32, transform::echo);
  EXPECT_GT(p.variants(), 1u);
  EXPECT_NE(std::memcmp(p.message(0), p.message(1), 32), 0);
  EXPECT_EQ(std::memcmp(p.message(0), p.expected(0), 32), 0);  // echo: unchanged
  EXPECT_EQ(p.message(p.variants()), p.message(0));
}

TEST(payload, random_bytes_cover_non_ascii) {
  const payload p = payload::make("random", 4096, transform::upper);
  const auto* bytes = reinterpret_cast<const unsigned char*>(p.message(0));
  EXPECT_TRUE(std::any_of(bytes, bytes + 4096, [](unsigned char c) { return c >= 0x80; }));
}

TEST(payload, a_file_is_sent_whole) {
  std::string name;
  {
    const testing::temp_file file("Thread-1 say hello");
    name = file.path();
    const payload p = payload::make("file:" + name, 64, transform::upper);
    EXPECT_EQ(p.size(), 18u);
    EXPECT_EQ(std::string(p.message(5), 18), "Thread-1 say hello");
    EXPECT_EQ(std::string(p.expected(0), 18), "THREAD-1 SAY HELLO");
  }
  EXPECT_THROW(payload::make("file:" + name, 64, transform::upper), std::runtime_error);
}

}  // namespace
}  // namespace echod::client
