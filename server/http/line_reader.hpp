// Splits an incremental byte stream into CRLF-terminated lines with a length cap. A line that is
// complete inside the caller's input is returned as a view into it (no copy); only a line cut by
// a read boundary is copied, into a buffer whose capacity is reused. It does not interpret lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace echod::server::http {

class line_reader {
 public:
  enum class result : std::uint8_t {
    line,      ///< a complete line, CRLF stripped
    partial,   ///< input exhausted inside a line; it is buffered until the next call
    too_long,  ///< the line (with its CRLF) would be longer than `cap`
    bad_eol,   ///< the line ended in a bare LF
  };

  /// Reads the next line from [p, end) and advances `p` past what it consumed. `cap` bounds the
  /// line's length including CRLF and must not change while a line is partial. The verdict
  /// depends only on the byte stream, never on where it was split. On `line`, `*line` stays
  /// valid until the next call or until the caller's input buffer goes away.
  result next(const char*& p, const char* end, std::size_t cap, std::string_view& line);

  /// Bytes of a line not yet complete are buffered.
  bool holds_partial() const { return !drop_ && !partial_.empty(); }

  /// Forgets any partial line (keeps the buffer's capacity).
  void reset() {
    partial_.clear();
    drop_ = false;
  }

 private:
  std::string partial_;
  bool drop_ = false;  // partial_ holds a line already returned: clear it on the next call
};

}  // namespace echod::server::http
