// libFuzzer target: the HTTP engine (server/http/) must not crash on any byte stream, and its
// answer must not depend on how the stream is split into reads. The same bytes are fed whole,
// byte by byte and in pieces whose sizes come from the input; the responses, the number of
// requests answered and whether the connection stays open must all agree, else we abort.
//
// Input layout: byte 0 picks the header limit and whether the worker is draining, byte 1 the
// body limit, bytes 2-3 seed the piece sizes, the rest is the byte stream. Small limits make
// 431 and 413 reachable with the short inputs a fuzzer writes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http/http_engine.hpp"

namespace {

using echod::server::http::engine;
using echod::server::http::limits;

struct outcome {
  std::string out;
  std::uint64_t requests = 0;
  bool open = true;
};

// Feeds `stream` in pieces of next_size() bytes, as a connection would, and stops at the first
// on_data() that ends the connection (a connection sends what it has and closes).
template <typename Sizes>
outcome feed(const limits& l, bool draining, std::string_view stream, Sizes next_size) {
  engine e(l);
  if (draining) e.end_keep_alive();
  outcome r;
  while (!stream.empty() && r.open) {
    const std::size_t n = std::min(next_size(), stream.size());
    r.open = e.on_data(stream.substr(0, n), r.out);
    stream.remove_prefix(n);
  }
  if (r.open) r.open = e.on_eof();
  r.requests = e.requests();
  return r;
}

void require_same(const outcome& whole, const outcome& split, const char* how) {
  if (whole.out == split.out && whole.requests == split.requests && whole.open == split.open) {
    return;
  }
  std::fprintf(stderr,
               "http engine: fed %s, the answer differs from the whole stream's\n"
               "whole: %llu requests, open=%d, %zu bytes out\n"
               "split: %llu requests, open=%d, %zu bytes out\n",
               how, static_cast<unsigned long long>(whole.requests), whole.open, whole.out.size(),
               static_cast<unsigned long long>(split.requests), split.open, split.out.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  constexpr std::array<std::size_t, 4> header_limits{8192, 256, 64, 16};
  constexpr std::array<std::size_t, 4> body_limits{1 << 20, 1024, 16, 0};
  const limits l{header_limits[data[0] & 3], body_limits[data[1] & 3]};
  const bool draining = (data[0] & 4) != 0;
  std::uint32_t seed = data[2] | (data[3] << 8) | 1u;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  const outcome whole = feed(l, draining, stream, [&] { return stream.size(); });
  require_same(whole, feed(l, draining, stream, [] { return std::size_t{1}; }), "byte by byte");
  // Piece sizes 1..64 from a xorshift generator: cuts land inside every kind of token.
  const auto pieces = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return std::size_t{1} + seed % 64;
  };
  require_same(whole, feed(l, draining, stream, pieces), "in random pieces");
  return 0;
}
