#include "server/http/percent_decode.hpp"

#include <cstring>

#include "server/http/hex.hpp"

namespace echod::server::http {

bool percent_decode(std::string_view src, std::string& dst) {
  const char* p = src.data();
  const char* const end = p + src.size();
  while (p != end) {
    // Copy the run up to the next '%' in one append: most targets have no escapes at all.
    const auto* pct =
        static_cast<const char*>(std::memchr(p, '%', static_cast<std::size_t>(end - p)));
    if (pct == nullptr) {
      dst.append(p, static_cast<std::size_t>(end - p));
      return true;
    }
    dst.append(p, static_cast<std::size_t>(pct - p));
    if (end - pct < 3) return false;
    const int hi = hex_value(pct[1]);
    const int lo = hex_value(pct[2]);
    if (hi < 0 || lo < 0) return false;
    dst.push_back(static_cast<char>(hi * 16 + lo));
    p = pct + 3;
  }
  return true;
}

}  // namespace echod::server::http
