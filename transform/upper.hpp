// The uppercase transform, exactly Python's bytes.upper(): ASCII a-z become A-Z, every other byte
// (UTF-8, binary, NUL, 0x80-0xFF) is unchanged. Vectorised: on 4 KiB messages the scalar loop is
// about a quarter of the server's CPU, 16 bytes at a time it is about 1%.
#pragma once

#include <cstddef>

namespace echod::transform {

/// Writes upper(src[0..n)) to dst; dst may equal src (in place), but must not overlap otherwise.
void upper_copy(char* dst, const char* src, std::size_t n);

inline void upper_in_place(char* data, std::size_t n) { upper_copy(data, data, n); }

}  // namespace echod::transform
