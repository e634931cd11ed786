// Percent-decoding of a request target (RFC 3986 §2.1) for the GET/HEAD echo. Every "%XY" with
// two hex digits becomes one byte, whatever it is ("%2f" gives '/', "%00" gives NUL); '+' stays
// '+' (form encoding is not URI syntax). It does not normalise paths or split the query.
#pragma once

#include <string>
#include <string_view>

namespace echod::server::http {

/// Appends the decoded `src` to `dst`. Returns false on a '%' not followed by two hex digits;
/// `dst` then holds a partial result.
bool percent_decode(std::string_view src, std::string& dst);

}  // namespace echod::server::http
