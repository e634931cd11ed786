// The uppercase transform on the message sizes echod sees (64 B, 4 KiB, 64 KiB): the vectorised
// transform::upper_copy against the plain byte-at-a-time loop it replaced, in bytes per second.
// Run by hand (build/bench/echod_bench --benchmark_filter=upper); figures depend on the machine.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "transform/upper.hpp"

namespace {

// The reference: what Python's bytes.upper() does, one byte at a time.
void upper_scalar(char* dst, const char* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(src[i]);
    dst[i] = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  }
}

std::vector<char> sample(std::size_t n) {
  // Mixed text: lower and upper case, digits, punctuation, UTF-8 lead and continuation bytes.
  std::vector<char> v(n);
  std::uint32_t x = 12345;
  for (auto& c : v) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return v;
}

template <void (*Upper)(char*, const char*, std::size_t)>
void bm_upper(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<char> src = sample(n);
  std::vector<char> dst(n);
  for (auto _ : state) {
    Upper(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(n));
}

void upper_vector(char* dst, const char* src, std::size_t n) {
  echod::transform::upper_copy(dst, src, n);
}

BENCHMARK(bm_upper<upper_vector>)->Name("upper_copy")->Arg(64)->Arg(4096)->Arg(65536);
BENCHMARK(bm_upper<upper_scalar>)->Name("upper_scalar")->Arg(64)->Arg(4096)->Arg(65536);

}  // namespace

// main() comes from runtime_bench.cpp: both files build into one echod_bench.
