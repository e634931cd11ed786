#include "server/http/http_parse.hpp"

#include <array>
#include <cstring>
#include <limits>

#include "server/http/hex.hpp"

namespace echod::server::http {
namespace {

// tchar from RFC 9110 §5.6.2: the bytes allowed in methods and header names.
constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> tchar = make_tchar_table();

bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Field values may hold SP, HTAB, VCHAR and obs-text; any other control byte (a stray CR, NUL)
// is how request smuggling starts, so it is refused.
bool is_clean_value(std::string_view v) {
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_ctl(c) && c != '\t') return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

method method_of(std::string_view m) {
  // Methods are case-sensitive (RFC 9110 §9.1): "get" is an unknown method, not GET.
  switch (m.size()) {
    case 3:
      if (m == "GET") return method::get;
      if (m == "PUT") return method::put;
      break;
    case 4:
      if (m == "HEAD") return method::head;
      if (m == "POST") return method::post;
      break;
    default:
      break;
  }
  return method::other;
}

}  // namespace

int parse_request_line(std::string_view line, request_line& rl) {
  // Exactly one SP between the three parts; RFC 9112 §3 allows lenience here but a strict
  // parser cannot be confused about where the target ends.
  std::size_t sp1 = 0;
  while (sp1 < line.size() && tchar[static_cast<unsigned char>(line[sp1])]) ++sp1;
  if (sp1 == 0 || sp1 == line.size() || line[sp1] != ' ') return 400;
  // The target is any run of non-CTL, non-SP bytes (obs-text included); its form is the
  // engine's business.
  std::size_t sp2 = sp1 + 1;
  while (sp2 < line.size() && static_cast<unsigned char>(line[sp2]) > ' ' && line[sp2] != '\x7f') {
    ++sp2;
  }
  if (sp2 == sp1 + 1 || sp2 == line.size() || line[sp2] != ' ') return 400;
  const std::string_view m = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return 400;
  }
  if (version[5] != '1') return 505;
  rl.verb = method_of(m);
  rl.target = target;
  rl.minor = version[7] == '0' ? 0 : 1;
  return 0;
}

bool parse_header_line(std::string_view line, header_field& f) {
  // One pass over the name finds the ':' and checks the token: leading whitespace (obs-fold)
  // and whitespace before ':' both stop the scan on a byte that is not ':'.
  std::size_t colon = 0;
  while (colon < line.size() && tchar[static_cast<unsigned char>(line[colon])]) ++colon;
  if (colon == 0 || colon == line.size() || line[colon] != ':') return false;
  f.name = line.substr(0, colon);
  std::string_view v = line.substr(colon + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (!is_clean_value(v)) return false;
  f.value = v;
  return true;
}

bool iequals(std::string_view s, std::string_view lower_s) {
  if (s.size() != lower_s.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (lower(s[i]) != lower_s[i]) return false;
  }
  return true;
}

known_header classify_header(std::string_view name) {
  // Dispatch on length first: most headers a client sends are none of these four.
  switch (name.size()) {
    case 6:
      if (iequals(name, "expect")) return known_header::expect;
      break;
    case 10:
      if (iequals(name, "connection")) return known_header::connection;
      break;
    case 14:
      if (iequals(name, "content-length")) return known_header::content_length;
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) return known_header::transfer_encoding;
      break;
    default:
      break;
  }
  return known_header::other;
}

bool parse_content_length(std::string_view v, std::uint64_t& n) {
  if (v.empty()) return false;
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t x = 0;
  for (const char c : v) {
    if (!is_digit(c)) return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (x > (max - d) / 10) return false;
    x = x * 10 + d;
  }
  n = x;
  return true;
}

bool parse_chunk_size(std::string_view line, std::uint64_t& size) {
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  std::size_t i = 0;
  std::uint64_t x = 0;
  for (; i < line.size(); ++i) {
    const int d = hex_value(line[i]);
    if (d < 0) break;
    x = x > (max >> 4) ? max : (x << 4) | static_cast<std::uint64_t>(d);
  }
  if (i == 0) return false;
  std::string_view rest = line.substr(i);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (!rest.empty()) {
    if (rest.front() != ';' || !is_clean_value(rest)) return false;
  } else if (i != line.size()) {
    return false;  // whitespace after the size with no extension is not chunk syntax
  }
  size = x;
  return true;
}

}  // namespace echod::server::http
