// End-to-end tests of the HTTP/1.1 engine: byte streams in, response bytes out. Every stream in
// the split corpus is also fed one byte at a time, at every 2-way split and at random multi-way
// splits, from buffers freed after each call (so ASan sees any view kept across reads).
#include "server/http/http_engine.hpp"

#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

// Counts heap allocations so the "nothing allocates once warm" promise is tested, not assumed.
namespace {
std::size_t g_allocations = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace echod::server::http {
namespace {

struct result {
  std::string out;
  bool keep = true;
  std::uint64_t requests = 0;
};

// Feeds `stream` cut at the increasing offsets in `cuts`. Each piece lives in its own string that
// is destroyed after the call, like a read buffer that is reused.
result feed(std::string_view stream, const std::vector<std::size_t>& cuts, limits l = {}) {
  engine e(l);
  result r;
  std::size_t from = 0;
  auto send = [&](std::size_t to) {
    const std::string piece(stream.substr(from, to - from));
    r.keep = e.on_data(piece, r.out);
    from = to;
  };
  for (const std::size_t c : cuts) send(c);
  send(stream.size());
  r.requests = e.requests();
  return r;
}

result feed(std::string_view stream, limits l = {}) { return feed(stream, {}, l); }

std::string ok(std::string_view body, std::string_view connection = "", bool head = false) {
  std::string s = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n";
  if (!connection.empty()) s += "Connection: " + std::string(connection) + "\r\n";
  s += "\r\n";
  if (!head) s += body;
  return s;
}

// The one response `stream` gets, which must be an error with `status`, closing.
void expect_error(std::string_view stream, int status, limits l = {}) {
  const result r = feed(stream, l);
  const std::string status_line = "HTTP/1.1 " + std::to_string(status) + " ";
  EXPECT_EQ(r.out.rfind(status_line, 0), 0u) << "stream: " << stream << "\nout: " << r.out;
  EXPECT_NE(r.out.find("\r\nConnection: close\r\n"), std::string::npos) << r.out;
  EXPECT_FALSE(r.keep) << stream;
  EXPECT_EQ(r.requests, 1u) << stream;
}

// ---- methods and bodies ----

TEST(http_engine, get_answers_the_uppercased_percent_decoded_target) {
  const result r = feed("GET /hello%2fW%6frld?q=a+b%25 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.out, ok("/HELLO/WORLD?Q=A+B%"));
  EXPECT_TRUE(r.keep);
  EXPECT_EQ(r.requests, 1u);
}

TEST(http_engine, stage_follows_each_request_through_head_body_and_back_to_idle) {
  // What the HTTP deadlines are measured against: every byte of a request moves it on.
  engine e(limits{});
  std::string out;
  using stage = engine::stage;
  EXPECT_EQ(e.current_stage(), stage::idle);
  ASSERT_TRUE(e.on_data("\r\n", out));  // an empty line before a request belongs to its head
  EXPECT_EQ(e.current_stage(), stage::head);
  ASSERT_TRUE(e.on_data("POST / HTTP/1.1\r\nContent-Le", out));
  EXPECT_EQ(e.current_stage(), stage::head);
  ASSERT_TRUE(e.on_data("ngth: 4\r\n\r\nab", out));
  EXPECT_EQ(e.current_stage(), stage::body);
  ASSERT_TRUE(e.on_data("cd", out));
  EXPECT_EQ(e.current_stage(), stage::idle);
  EXPECT_EQ(e.requests(), 1u);
  ASSERT_TRUE(e.on_data("G", out));
  EXPECT_EQ(e.current_stage(), stage::head);
  ASSERT_TRUE(e.on_data("ET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", out));
  EXPECT_EQ(e.current_stage(), stage::body);  // chunk framing and trailers count as body
  ASSERT_TRUE(e.on_data("1\r\nx\r\n0\r\n", out));
  EXPECT_EQ(e.current_stage(), stage::body);
  ASSERT_TRUE(e.on_data("\r\n", out));
  EXPECT_EQ(e.current_stage(), stage::idle);
  EXPECT_EQ(e.requests(), 2u);
}

TEST(http_engine, get_with_invalid_percent_escape_is_400) {
  expect_error("GET /a%zz HTTP/1.1\r\n\r\n", 400);
  expect_error("GET /a%4 HTTP/1.1\r\n\r\n", 400);
  expect_error("GET /a% HTTP/1.1\r\n\r\n", 400);
}

TEST(http_engine, full_error_response_format) {
  const result r = feed("GET /a%zz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\nbad request\n");
}

TEST(http_engine, post_with_content_length_echoes_the_uppercased_body) {
  const std::string body = "hello, World 123 \xc3\xa9\xff\x00z";
  const result r = feed("POST /ignored HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
  EXPECT_EQ(r.out, ok("HELLO, WORLD 123 \xc3\xa9\xff\x00Z"));
  EXPECT_TRUE(r.keep);
}

TEST(http_engine, put_echoes_like_post) {
  EXPECT_EQ(feed("PUT / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").out, ok("ABC"));
}

TEST(http_engine, post_without_body_answers_empty) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\n\r\n").out, ok(""));
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").out, ok(""));
}

TEST(http_engine, post_chunked_with_extensions_and_trailers) {
  const result r = feed(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n"
      "7 ; x=\"y\"\r\n, world\r\n"
      "0;last\r\nX-Trailer: 1\r\nChecksum: abc\r\n\r\n");
  EXPECT_EQ(r.out, ok("HELLO, WORLD"));
  EXPECT_TRUE(r.keep);
}

TEST(http_engine, transfer_encoding_is_case_insensitive) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n").out,
            ok("AB"));
}

TEST(http_engine, head_sends_get_headers_without_body) {
  const result r = feed("HEAD /abc HTTP/1.1\r\n\r\nGET /abc HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out, ok("/ABC", "", true) + ok("/ABC"));
}

TEST(http_engine, get_body_is_read_and_dropped) {
  const result r = feed("GET /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET /y HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out, ok("/X") + ok("/Y"));
}

TEST(http_engine, other_methods_get_405_with_allow) {
  const result r = feed("DELETE /x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out,
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n"
            "Connection: close\r\nAllow: GET, HEAD, POST, PUT\r\n\r\nmethod not allowed\n");
  EXPECT_FALSE(r.keep);
  expect_error("get / HTTP/1.1\r\n\r\n", 405);  // methods are case-sensitive
  expect_error("OPTIONS * HTTP/1.1\r\n\r\n", 405);
}

TEST(http_engine, expect_100_continue) {
  const result r = feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(r.out, "HTTP/1.1 100 Continue\r\n\r\n" + ok("AB"));
  EXPECT_EQ(r.requests, 1u);
  // Not for HTTP/1.0, not without a body, not when the body is refused.
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").out, ok(""));
  const result big =
      feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n", limits{8192, 8});
  EXPECT_EQ(big.out.rfind("HTTP/1.1 413 ", 0), 0u);
}

// ---- connection management ----

TEST(http_engine, pipelined_requests_in_one_buffer) {
  const result r = feed(
      "GET /a HTTP/1.1\r\n\r\n"
      "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
      "HEAD /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out, ok("/A") + ok("XY") + ok("Z") + ok("/B", "", true));
  EXPECT_EQ(r.requests, 4u);
  EXPECT_TRUE(r.keep);
}

TEST(http_engine, http10_closes_unless_keep_alive) {
  const result closes = feed("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  EXPECT_EQ(closes.out, ok("/A", "close"));
  EXPECT_FALSE(closes.keep);
  EXPECT_EQ(closes.requests, 1u);

  const result kept =
      feed("GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
  EXPECT_EQ(kept.out, ok("/A", "keep-alive") + ok("/B", "close"));
  EXPECT_FALSE(kept.keep);
}

TEST(http_engine, http11_keeps_alive_unless_connection_close) {
  const result kept = feed("GET /a HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(kept.keep);
  const result closed =
      feed("GET /a HTTP/1.1\r\nConnection: foo, CLOSE\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n");
  EXPECT_EQ(closed.out, ok("/A", "close"));
  EXPECT_FALSE(closed.keep);
  EXPECT_EQ(closed.requests, 1u);
}

TEST(http_engine, end_keep_alive_closes_after_the_next_response) {
  engine e({});
  std::string out;
  EXPECT_TRUE(e.on_data("GET /a HTTP/1.1\r\n\r\n", out));
  EXPECT_EQ(out, ok("/A"));
  out.clear();
  e.end_keep_alive();
  EXPECT_FALSE(e.on_data("GET /b HTTP/1.1\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n", out));
  EXPECT_EQ(out, ok("/B", "close"));
  EXPECT_EQ(e.requests(), 2u);
}

TEST(http_engine, later_http1_minor_versions_are_read_as_1_1) {
  EXPECT_EQ(feed("GET /a HTTP/1.7\r\n\r\n").out, ok("/A"));
}

TEST(http_engine, empty_lines_before_a_request_are_skipped) {
  // Old clients send a CRLF after a POST body (RFC 9112 §2.2).
  const result r =
      feed("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\na\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.out, ok("A") + ok("/B"));
}

TEST(http_engine, header_names_are_case_insensitive) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\ncOnTeNt-LeNgTh: 2\r\n\r\nab").out, ok("AB"));
}

TEST(http_engine, on_eof_drops_a_partial_request) {
  for (const std::string_view partial :
       {"GET /a HTT", "GET /a HTTP/1.1\r\nHost: x\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"}) {
    engine e(limits{});
    std::string out;
    EXPECT_TRUE(e.on_data(partial, out));
    EXPECT_EQ(out, "");
    EXPECT_FALSE(e.on_eof());
    EXPECT_EQ(out, "");
    EXPECT_EQ(e.requests(), 0u);
    EXPECT_FALSE(e.on_data("\r\n\r\n", out));  // nothing after EOF
    EXPECT_EQ(out, "");
  }
}

TEST(http_engine, on_eof_after_complete_pipelined_requests) {
  engine e(limits{});
  std::string out;
  EXPECT_TRUE(e.on_data("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c", out));
  EXPECT_EQ(out, ok("/A") + ok("/B"));
  EXPECT_FALSE(e.on_eof());
  EXPECT_EQ(out, ok("/A") + ok("/B"));
  EXPECT_EQ(e.requests(), 2u);
}

TEST(http_engine, input_after_an_error_is_ignored) {
  engine e(limits{});
  std::string out;
  EXPECT_FALSE(e.on_data("GET /a HTTP/1.1\r\n\r\nBAD\r\n\r\nGET /b HTTP/1.1\r\n\r\n", out));
  const std::string expected = ok("/A");
  ASSERT_EQ(out.rfind(expected, 0), 0u);
  EXPECT_EQ(out.find("HTTP/1.1 400 ", expected.size()), expected.size());
  EXPECT_EQ(out.find("HTTP/1.1 200", expected.size()), std::string::npos);
  const std::string before = out;
  EXPECT_FALSE(e.on_data("GET /c HTTP/1.1\r\n\r\n", out));
  EXPECT_EQ(out, before);
  EXPECT_EQ(e.requests(), 2u);
}

// ---- errors ----

TEST(http_engine, malformed_request_lines_are_400) {
  for (const std::string_view s :
       {"GET\r\n\r\n", "GET /\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 \r\n\r\n",
        "GET / http/1.1\r\n\r\n", "GET / HTTP/1.10\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n",
        "GET /a\x01 HTTP/1.1\r\n\r\n", "GET http://h/a HTTP/1.1\r\n\r\n", "GET a HTTP/1.1\r\n\r\n",
        "\x16\x03\x01 junk\r\n\r\n"}) {
    expect_error(s, 400);
  }
}

TEST(http_engine, bare_lf_is_400) {
  expect_error("GET / HTTP/1.1\n\n", 400);
  expect_error("GET / HTTP/1.1\r\nHost: x\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nHost: x\r\n\n", 400);
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", 400);
}

TEST(http_engine, malformed_header_lines_are_400) {
  for (const std::string_view h : {"NoColon", "Name : v", "Name\t: v", ": v", " folded", "\tx: y",
                                   "N(me: v", "X: a\rb", "X: a\x01"}) {
    expect_error("GET / HTTP/1.1\r\nHost: x\r\n" + std::string(h) + "\r\n\r\n", 400);
  }
}

TEST(http_engine, bad_framing_headers_are_400) {
  for (const std::string_view h :
       {"Content-Length: -1", "Content-Length: 1x", "Content-Length:", "Content-Length: 5, 5",
        "Content-Length: 99999999999999999999", "Content-Length: 1\r\nContent-Length: 2",
        "Content-Length: 1\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 1", "Transfer-Encoding: chunked, gzip",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "Transfer-Encoding:"}) {
    expect_error("POST / HTTP/1.1\r\n" + std::string(h) + "\r\n\r\n", 400);
  }
  expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

TEST(http_engine, identical_duplicate_content_length_is_accepted) {
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").out,
            ok("AB"));
}

TEST(http_engine, unsupported_transfer_coding_is_501) {
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
}

TEST(http_engine, bad_chunk_framing_is_400) {
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string_view body : {"x\r\n", "5 \r\n", "-1\r\n", "3\r\nabcd\r\n", "3\r\nabc\n",
                                      "3\r\nabc\r\n0\r\nbad trailer\r\n\r\n", "\r\n"}) {
    expect_error(head + std::string(body), 400);
  }
}

TEST(http_engine, unsupported_version_is_505) {
  expect_error("GET / HTTP/2.0\r\n\r\n", 505);
  expect_error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
  expect_error("GET / HTTP/0.9\r\n\r\n", 505);
}

TEST(http_engine, header_larger_than_the_limit_is_431) {
  const std::string head = "GET /a HTTP/1.1\r\nX: ";
  // Total head = head + pad + "\r\n\r\n"; exactly the limit passes, one more byte is 431.
  const limits l{64, 1024};
  const std::string fits = head + std::string(64 - head.size() - 4, 'p') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 64u);
  EXPECT_EQ(feed(fits, l).out, ok("/A"));
  const std::string too_big = head + std::string(64 - head.size() - 3, 'p') + "\r\n\r\n";
  expect_error(too_big, 431, l);
  expect_error("GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 431, l);  // request line
  expect_error(std::string(100, 'a'), 431, l);  // no line end at all: no need to wait for one
  expect_error(std::string(64, 'a'), 431, l);   // 64 bytes without LF: the line must exceed 64
  const result short_of_it = feed(std::string(63, 'a'), l);
  EXPECT_EQ(short_of_it.out, "");
  EXPECT_TRUE(short_of_it.keep);
  // Trailers have their own limit of the same size.
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " +
                   std::string(100, 't') + "\r\n\r\n",
               431, l);
}

TEST(http_engine, body_larger_than_the_limit_is_413) {
  const limits l{8192, 4};
  EXPECT_EQ(feed("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", l).out, ok("ABCD"));
  // Sent as soon as the head is seen: no body bytes arrive here at all.
  expect_error("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 413, l);
  expect_error("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 413, l);
  const std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(feed(chunked + "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", l).out, ok("ABCD"));
  expect_error(chunked + "2\r\nab\r\n3\r\n", 413, l);
  expect_error(chunked + "ffffffffffffffffffffffff\r\n", 413, l);
}

// ---- split invariance ----

struct split_case {
  const char* name;
  std::string stream;
  limits l;
};

std::vector<split_case> split_corpus() {
  const limits small{128, 16};
  return {
      {"mixed_pipeline",
       "\r\nGET /p%41th?q=%2f+x HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: t\r\n\r\n"
       "POST /e HTTP/1.1\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world"
       "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
       "4;ext=1\r\nwiki\r\n5\r\npedia\r\n0;e\r\nTrailer-A: x\r\n\r\n"
       "HEAD /h HTTP/1.1\r\n\r\n"
       "GET /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
       "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
       "PUT / HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
       "GET /after-close HTTP/1.1\r\n\r\n",
       limits{}},
      {"http10", "GET /x HTTP/1.0\r\n\r\nGET /y HTTP/1.0\r\n\r\n", limits{}},
      {"bare_lf_in_header", "GET / HTTP/1.1\r\nA: b\r\nC: d\n\r\n", limits{}},
      {"obs_fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", limits{}},
      {"space_before_colon", "GET /ok HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nA : b\r\n\r\n", limits{}},
      {"431_head", "GET / HTTP/1.1\r\n" + std::string(200, 'h') + ": v\r\n\r\n", small},
      {"431_request_line", "GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", small},
      {"413_length", "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'b'), small},
      {"413_chunked",
       "POST / HTTP/1.1\r\nTransfer-Encoding: "
       "chunked\r\n\r\n8\r\naaaaaaaa\r\n9\r\nbbbbbbbbb\r\n0\r\n\r\n",
       small},
      {"505", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", limits{}},
      {"405", "PATCH / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", limits{}},
      {"chunk_missing_crlf",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", limits{}},
      {"chunk_size_bare_lf", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n",
       limits{}},
      {"bad_percent", "GET /ok HTTP/1.1\r\n\r\nGET /%x1 HTTP/1.1\r\n\r\n", limits{}},
      {"partial_at_end", "GET /a HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab",
       limits{}},
  };
}

void expect_same(const result& want, const result& got, const std::string& what) {
  EXPECT_EQ(got.out, want.out) << what;
  EXPECT_EQ(got.keep, want.keep) << what;
  EXPECT_EQ(got.requests, want.requests) << what;
}

TEST(http_engine_split, every_split_gives_identical_output) {
  std::mt19937 rng(12345);
  for (const split_case& c : split_corpus()) {
    SCOPED_TRACE(c.name);
    const result whole = feed(c.stream, c.l);
    ASSERT_GT(whole.requests + whole.out.size(), 0u);

    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < c.stream.size(); ++i) cuts.push_back(i);
    expect_same(whole, feed(c.stream, cuts, c.l), "1 byte at a time");

    for (std::size_t i = 0; i <= c.stream.size(); ++i) {
      expect_same(whole, feed(c.stream, {i}, c.l), "split at " + std::to_string(i));
    }
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<std::size_t> random_cuts;
      for (std::size_t i = 1; i < c.stream.size(); ++i) {
        if (rng() % 8 == 0) random_cuts.push_back(i);
      }
      expect_same(whole, feed(c.stream, random_cuts, c.l), "random trial " + std::to_string(trial));
    }
  }
}

TEST(http_engine_split, corpus_outputs_are_what_we_expect) {
  // Pins the reference outputs the split test compares against.
  const std::vector<split_case> corpus = split_corpus();
  const result mixed = feed(corpus[0].stream, corpus[0].l);
  EXPECT_EQ(mixed.out, ok("/PATH?Q=/+X") + ok("HELLO WORLD") + "HTTP/1.1 100 Continue\r\n\r\n" +
                           ok("WIKIPEDIA") + ok("/H", "", true) + ok("/B") +
                           ok("/K", "keep-alive") + ok("OK", "close"));
  EXPECT_FALSE(mixed.keep);
  EXPECT_EQ(mixed.requests, 7u);
  const int statuses[] = {0, 0, 400, 400, 400, 431, 431, 413, 413, 505, 405, 400, 400, 400, 0};
  for (std::size_t i = 2; i < corpus.size(); ++i) {
    if (statuses[i] == 0) continue;
    const result r = feed(corpus[i].stream, corpus[i].l);
    EXPECT_NE(r.out.find("HTTP/1.1 " + std::to_string(statuses[i]) + " "), std::string::npos)
        << corpus[i].name << ": " << r.out;
    EXPECT_FALSE(r.keep) << corpus[i].name;
  }
}

// ---- performance contract ----

TEST(http_engine, no_allocation_per_request_once_warm) {
  const std::string body(4096, 'q');
  const std::string stream =
      "GET /hello%20world HTTP/1.1\r\nHost: localhost\r\n\r\n"
      "POST / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" +
      body +
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "800\r\n" +
      body.substr(0, 2048) + "\r\n800\r\n" + body.substr(0, 2048) + "\r\n0\r\n\r\n";
  engine e(limits{});
  std::string out;
  auto round = [&] {
    // Fed in 1000-byte reads so partial lines and bodies are buffered too.
    for (std::size_t at = 0; at < stream.size(); at += 1000) {
      ASSERT_TRUE(e.on_data(std::string_view(stream).substr(at, 1000), out));
    }
    out.clear();
  };
  for (int i = 0; i < 3; ++i) round();
  const std::size_t before = g_allocations;
  for (int i = 0; i < 100; ++i) round();
  EXPECT_EQ(g_allocations, before);
  EXPECT_EQ(e.requests(), 103u * 3);
}

}  // namespace
}  // namespace echod::server::http
