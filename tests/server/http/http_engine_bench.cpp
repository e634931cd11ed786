// Micro-benchmarks of the HTTP engine on the wrk hot path: ns per keep-alive GET and per 4 KiB
// POST, whole requests per read (the common case) and a pipelined batch. No sockets.
#include <string>

#include <benchmark/benchmark.h>

#include "server/http/http_engine.hpp"

namespace {

using echod::server::http::engine;
using echod::server::http::limits;

void run(benchmark::State& state, const std::string& request, int per_read) {
  std::string in;
  for (int i = 0; i < per_read; ++i) in += request;
  engine e(limits{});
  std::string out;
  for (auto _ : state) {
    const bool keep = e.on_data(in, out);
    benchmark::DoNotOptimize(keep);
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * per_read);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size()));
}

// What wrk sends by default.
const std::string get_request = "GET /hello/world HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

std::string post_request(std::size_t n) {
  return "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: " + std::to_string(n) +
         "\r\n\r\n" + std::string(n, 'x');
}

void bm_keepalive_get(benchmark::State& state) { run(state, get_request, 1); }
void bm_pipelined_get_x16(benchmark::State& state) { run(state, get_request, 16); }
void bm_post_4k(benchmark::State& state) { run(state, post_request(4096), 1); }

void bm_post_4k_chunked_split(benchmark::State& state) {
  // The slow path: chunked body arriving over several reads, buffered in the engine.
  const std::string head =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string req = head + "1000\r\n" + std::string(4096, 'x') + "\r\n0\r\n\r\n";
  engine e(limits{});
  std::string out;
  for (auto _ : state) {
    for (std::size_t at = 0; at < req.size(); at += 1460) {  // one TCP segment per read
      benchmark::DoNotOptimize(e.on_data(std::string_view(req).substr(at, 1460), out));
    }
    out.clear();
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(bm_keepalive_get);
BENCHMARK(bm_pipelined_get_x16);
BENCHMARK(bm_post_4k);
BENCHMARK(bm_post_4k_chunked_split);

}  // namespace

BENCHMARK_MAIN();
