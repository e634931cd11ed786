// Stateless HTTP/1.1 syntax checks (RFC 9110/9112) for one complete line or field value at a
// time: request line, header line, Content-Length, Transfer-Encoding and Connection lists, the
// chunk-size line. The engine decides what the parsed pieces mean; nothing here buffers or
// allocates, and results are views into the line they came from.
#pragma once

#include <cstdint>
#include <string_view>

namespace echod::server::http {

enum class method : std::uint8_t { get, head, post, put, other };

struct request_line {
  method verb = method::other;
  std::string_view target;  ///< as received: no CTL or space, not decoded
  int minor = 1;            ///< HTTP/1.minor; 1.2 and later read as 1.1
};

/// Parses `method SP target SP HTTP/d.d` (CRLF already stripped). Returns 0, or the status to
/// answer: 400 for bad syntax, 505 for a major version other than 1.
int parse_request_line(std::string_view line, request_line& rl);

struct header_field {
  std::string_view name;
  std::string_view value;  ///< surrounding whitespace trimmed
};

/// Parses `token ":" OWS value OWS`. False for a missing ':', an empty or non-token name (which
/// covers whitespace before ':' and obs-fold continuation lines) or a control byte in the value.
bool parse_header_line(std::string_view line, header_field& f);

enum class known_header : std::uint8_t {
  other,
  content_length,
  transfer_encoding,
  connection,
  expect
};

/// Recognises the few header names the engine acts on, case-insensitively.
known_header classify_header(std::string_view name);

/// ASCII case-insensitive comparison; `lower` must already be lowercase.
bool iequals(std::string_view s, std::string_view lower);

/// 1*DIGIT into `n`. False when empty, not all digits, or above 2^64-1.
bool parse_content_length(std::string_view v, std::uint64_t& n);

/// Calls `f(token)` for every non-empty element of a comma-separated list, whitespace trimmed.
template <typename F>
void for_each_list_element(std::string_view v, F&& f) {
  while (!v.empty()) {
    const std::size_t comma = v.find(',');
    std::string_view e = v.substr(0, comma);
    v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
    while (!e.empty() && (e.front() == ' ' || e.front() == '\t')) e.remove_prefix(1);
    while (!e.empty() && (e.back() == ' ' || e.back() == '\t')) e.remove_suffix(1);
    if (!e.empty()) f(e);
  }
}

/// Parses `1*HEXDIG [ BWS ";" chunk-ext ]`; extensions are skipped but must hold no control
/// bytes. A size above 2^64-1 saturates (the caller's body limit rejects it). False on syntax.
bool parse_chunk_size(std::string_view line, std::uint64_t& size);

}  // namespace echod::server::http
