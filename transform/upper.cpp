#include "transform/upper.hpp"

#include <cstdint>
#include <cstring>

namespace echod::transform {
namespace {

// GCC/Clang vector extensions: SSE2 on x86-64, NEON on arm64, without intrinsics per target.
using bytes16 = std::uint8_t __attribute__((vector_size(16)));

inline std::uint8_t upper_byte(std::uint8_t c) {
  // c - 'a' < 26 as unsigned is exactly "c is a-z"; clearing bit 5 then maps it to A-Z.
  return static_cast<std::uint8_t>(c - ((static_cast<std::uint8_t>(c - 'a') < 26) << 5));
}

inline bytes16 upper16(bytes16 v) {
  const bytes16 offset = v - static_cast<std::uint8_t>('a');
  // Lanes where offset < 26 compare to all-ones; keep 0x20 there and subtract it.
  const bytes16 is_lower = reinterpret_cast<bytes16>(offset < static_cast<std::uint8_t>(26));
  return v - (is_lower & static_cast<std::uint8_t>(0x20));
}

}  // namespace

void upper_copy(char* dst, const char* src, std::size_t n) {
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    bytes16 v[4];
    std::memcpy(v, src + i, sizeof v);  // unaligned loads; dst == src is fine
    for (auto& x : v) x = upper16(x);
    std::memcpy(dst + i, v, sizeof v);
  }
  for (; i + 16 <= n; i += 16) {
    bytes16 v;
    std::memcpy(&v, src + i, sizeof v);
    v = upper16(v);
    std::memcpy(dst + i, &v, sizeof v);
  }
  for (; i < n; ++i) {
    dst[i] = static_cast<char>(upper_byte(static_cast<std::uint8_t>(src[i])));
  }
}

}  // namespace echod::transform
