#include "server/http/http_response.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

#include "server/http/status.hpp"
#include "transform/upper.hpp"

namespace echod::server::http {
namespace {

constexpr std::string_view ok_prefix =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ";

struct error_text {
  int status;
  std::string_view extra_headers;
  std::string_view body;
};

constexpr error_text errors[] = {
    {400, "", "bad request\n"},
    {405, "Allow: GET, HEAD, POST, PUT\r\n", "method not allowed\n"},
    {413, "", "request body too large\n"},
    {431, "", "request header too large\n"},
    {501, "", "transfer coding not implemented\n"},
    {505, "", "http version not supported\n"},
};

// Builds into a stack buffer so the header costs one append (one capacity check) on `out`.
class header_buffer {
 public:
  void add(std::string_view s) {
    std::memcpy(buf_ + len_, s.data(), s.size());
    len_ += s.size();
  }
  void add_number(std::size_t n) {
    len_ = static_cast<std::size_t>(std::to_chars(buf_ + len_, buf_ + sizeof buf_, n).ptr - buf_);
  }
  void flush(std::string& out) const { out.append(buf_, len_); }

 private:
  char buf_[256];  // the longest header below is ~170 bytes
  std::size_t len_ = 0;
};

}  // namespace

void write_ok(std::string& out, const char* body, std::size_t n, bool with_body,
              connection_header c) {
  header_buffer h;
  h.add(ok_prefix);
  h.add_number(n);
  switch (c) {
    case connection_header::none:
      h.add("\r\n\r\n");
      break;
    case connection_header::close:
      h.add("\r\nConnection: close\r\n\r\n");
      break;
    case connection_header::keep_alive:
      h.add("\r\nConnection: keep-alive\r\n\r\n");
      break;
  }
  h.flush(out);
  if (!with_body || n == 0) return;
  const std::size_t at = out.size();
  out.append(body, n);
  transform::upper_in_place(out.data() + at, n);
}

void write_error(std::string& out, int status) {
  const error_text* e = &errors[0];
  for (const auto& x : errors) {
    if (x.status == status) e = &x;
  }
  header_buffer h;
  h.add("HTTP/1.1 ");
  h.add_number(static_cast<std::size_t>(e->status));
  h.add(" ");
  h.add(reason_phrase(e->status));
  h.add("\r\n");
  h.add("Content-Type: text/plain\r\nContent-Length: ");
  h.add_number(e->body.size());
  h.add("\r\nConnection: close\r\n");
  h.add(e->extra_headers);
  h.add("\r\n");
  h.add(e->body);
  h.flush(out);
}

void write_continue(std::string& out) { out.append("HTTP/1.1 100 Continue\r\n\r\n"); }

}  // namespace echod::server::http
