#include "server/http/line_reader.hpp"

#include <algorithm>
#include <cstring>

namespace echod::server::http {

line_reader::result line_reader::next(const char*& p, const char* end, std::size_t cap,
                                      std::string_view& line) {
  if (drop_) reset();
  const std::size_t have = partial_.size();
  if (cap <= have) return result::too_long;
  const auto avail = static_cast<std::size_t>(end - p);
  // Never look further than the cap allows, so a 1 MiB body after a header cannot be scanned.
  const std::size_t window = std::min(avail, cap - have);
  const auto* nl = static_cast<const char*>(window ? std::memchr(p, '\n', window) : nullptr);
  if (nl == nullptr) {
    // have + avail bytes and no LF: the finished line is at least one byte longer than that.
    if (have + avail >= cap) return result::too_long;
    partial_.append(p, avail);
    p = end;
    return result::partial;
  }
  std::string_view v;
  if (have == 0) {
    v = std::string_view(p, static_cast<std::size_t>(nl - p));
  } else {
    partial_.append(p, static_cast<std::size_t>(nl - p));
    v = partial_;
    drop_ = true;
  }
  p = nl + 1;
  if (v.empty() || v.back() != '\r') return result::bad_eol;
  line = v.substr(0, v.size() - 1);
  return result::line;
}

}  // namespace echod::server::http
