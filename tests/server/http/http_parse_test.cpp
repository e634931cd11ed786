// Unit tests for the engine's building blocks: line splitting, percent-decoding and the
// stateless syntax checks. The engine's behaviour end to end is in http_engine_test.cpp.
#include "server/http/http_parse.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "server/http/line_reader.hpp"
#include "server/http/percent_decode.hpp"

namespace echod::server::http {
namespace {

using lr = line_reader::result;

TEST(line_reader, returns_lines_in_place_and_buffers_partials) {
  line_reader r;
  const std::string in = "ab\r\ncd";
  const char* p = in.data();
  std::string_view line;
  ASSERT_EQ(r.next(p, in.data() + in.size(), 100, line), lr::line);
  EXPECT_EQ(line, "ab");
  EXPECT_EQ(line.data(), in.data());  // no copy for a line inside the input
  ASSERT_EQ(r.next(p, in.data() + in.size(), 100, line), lr::partial);
  EXPECT_EQ(p, in.data() + in.size());
  const std::string rest = "e\r\n";
  p = rest.data();
  ASSERT_EQ(r.next(p, rest.data() + rest.size(), 100, line), lr::line);
  EXPECT_EQ(line, "cde");
}

TEST(line_reader, bare_lf_is_reported) {
  line_reader r;
  const std::string in = "ab\n";
  const char* p = in.data();
  std::string_view line;
  EXPECT_EQ(r.next(p, in.data() + in.size(), 100, line), lr::bad_eol);
}

TEST(line_reader, cap_counts_the_crlf_and_does_not_depend_on_splits) {
  std::string_view line;
  {
    line_reader r;
    const std::string in = "abc\r\n";  // 5 bytes: fits a cap of 5, not 4
    const char* p = in.data();
    EXPECT_EQ(r.next(p, in.data() + in.size(), 5, line), lr::line);
    p = in.data();
    line_reader r2;
    EXPECT_EQ(r2.next(p, in.data() + in.size(), 4, line), lr::too_long);
  }
  {
    line_reader r;  // the same 4-byte cap, fed a byte at a time: too long once 4 bytes lack LF
    const std::string in = "abc\r\n";
    lr last = lr::partial;
    for (std::size_t i = 0; i < in.size() && last == lr::partial; ++i) {
      const char* p = in.data() + i;
      last = r.next(p, p + 1, 4, line);
    }
    EXPECT_EQ(last, lr::too_long);
  }
}

TEST(percent_decode, decodes_escapes_and_keeps_plus) {
  std::string out;
  ASSERT_TRUE(percent_decode("/a%2fb%2F%41+%20%00x", out));
  EXPECT_EQ(out, std::string("/a/b/A+ \0x", 10));
}

TEST(percent_decode, rejects_bad_escapes) {
  for (const std::string_view bad : {"%", "/%4", "/%g0", "/%0g", "/a%%41"}) {
    std::string out;
    EXPECT_FALSE(percent_decode(bad, out)) << bad;
  }
}

TEST(parse_request_line, accepts_the_three_parts) {
  request_line rl;
  ASSERT_EQ(parse_request_line("GET /x?y HTTP/1.1", rl), 0);
  EXPECT_EQ(rl.verb, method::get);
  EXPECT_EQ(rl.target, "/x?y");
  EXPECT_EQ(rl.minor, 1);
  ASSERT_EQ(parse_request_line("POST / HTTP/1.0", rl), 0);
  EXPECT_EQ(rl.verb, method::post);
  EXPECT_EQ(rl.minor, 0);
  ASSERT_EQ(parse_request_line("BREW /pot HTTP/1.9", rl), 0);
  EXPECT_EQ(rl.verb, method::other);
  EXPECT_EQ(rl.minor, 1);  // a later 1.x is read as 1.1
  ASSERT_EQ(parse_request_line("get / HTTP/1.1", rl), 0);
  EXPECT_EQ(rl.verb, method::other);  // methods are case-sensitive
}

TEST(parse_request_line, rejects_bad_syntax_and_versions) {
  request_line rl;
  for (const std::string_view bad :
       {"GET", "GET /", "GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET / http/1.1", "GET / HTTP/1.10",
        "GET / HTTP/1", "G(T / HTTP/1.1", " GET / HTTP/1.1", "GET /a\x01 HTTP/1.1",
        "GET /a\x7f HTTP/1.1", "GET / HTTP/1.x"}) {
    EXPECT_EQ(parse_request_line(bad, rl), 400) << bad;
  }
  EXPECT_EQ(parse_request_line("GET / HTTP/2.0", rl), 505);
  EXPECT_EQ(parse_request_line("GET / HTTP/0.9", rl), 505);
}

TEST(parse_header_line, splits_and_trims) {
  header_field f;
  ASSERT_TRUE(parse_header_line("Host: example \t", f));
  EXPECT_EQ(f.name, "Host");
  EXPECT_EQ(f.value, "example");
  ASSERT_TRUE(parse_header_line("X-Empty:", f));
  EXPECT_EQ(f.value, "");
  ASSERT_TRUE(parse_header_line("X:a:b", f));
  EXPECT_EQ(f.value, "a:b");
}

TEST(parse_header_line, rejects_malformed_lines) {
  header_field f;
  for (const std::string_view bad : {"NoColon", "Name : v", "Name\t: v", ": v", " folded: v",
                                     "\tfolded", "Na(me: v", "X: a\rb"}) {
    EXPECT_FALSE(parse_header_line(bad, f)) << bad;
  }
  EXPECT_FALSE(parse_header_line(std::string_view("X: a\0b", 6), f));
}

TEST(classify_header, is_case_insensitive) {
  EXPECT_EQ(classify_header("content-LENGTH"), known_header::content_length);
  EXPECT_EQ(classify_header("Transfer-Encoding"), known_header::transfer_encoding);
  EXPECT_EQ(classify_header("CONNECTION"), known_header::connection);
  EXPECT_EQ(classify_header("Expect"), known_header::expect);
  EXPECT_EQ(classify_header("Content-Type"), known_header::other);
}

TEST(parse_content_length, digits_only_without_overflow) {
  std::uint64_t n = 0;
  ASSERT_TRUE(parse_content_length("0042", n));
  EXPECT_EQ(n, 42u);
  ASSERT_TRUE(parse_content_length("18446744073709551615", n));
  EXPECT_EQ(n, 18446744073709551615u);
  for (const std::string_view bad :
       {"", "-1", "+1", "1 2", "5, 5", "0x10", "18446744073709551616"}) {
    EXPECT_FALSE(parse_content_length(bad, n)) << bad;
  }
}

TEST(parse_chunk_size, hex_with_ignored_extensions) {
  std::uint64_t n = 0;
  ASSERT_TRUE(parse_chunk_size("1aF", n));
  EXPECT_EQ(n, 0x1afu);
  ASSERT_TRUE(parse_chunk_size("10;name=value;flag", n));
  EXPECT_EQ(n, 16u);
  ASSERT_TRUE(parse_chunk_size("0 ; ext=\"q\"", n));
  EXPECT_EQ(n, 0u);
  ASSERT_TRUE(parse_chunk_size("fffffffffffffffffffff", n));  // saturates
  EXPECT_EQ(n, ~std::uint64_t{0});
  for (const std::string_view bad : {"", ";ext", "g", "5 ", "5x", "-5", "5;\x01"}) {
    EXPECT_FALSE(parse_chunk_size(bad, n)) << bad;
  }
}

TEST(for_each_list_element, skips_empty_elements) {
  std::string joined;
  for_each_list_element(" a ,, b\t,c ,",
                        [&](std::string_view e) { joined += std::string(e) + "|"; });
  EXPECT_EQ(joined, "a|b|c|");
}

}  // namespace
}  // namespace echod::server::http
