#include "server/http/http_engine.hpp"

#include <algorithm>

#include "server/http/http_response.hpp"
#include "server/http/percent_decode.hpp"

namespace echod::server::http {

engine::engine(limits l) : limits_(l) {}

bool engine::on_data(std::string_view in, std::string& out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  // Each step consumes input or changes state; a request that completes without more input
  // (no body) is answered inside the step that saw its last byte.
  while (p != end && state_ != state::dead) {
    switch (state_) {
      case state::head:
        read_head_line(p, end, out);
        break;
      case state::body:
        read_body(p, end, out);
        break;
      case state::chunk_size:
        read_chunk_size(p, end, out);
        break;
      case state::chunk_data:
        read_chunk_data(p, end);
        break;
      case state::chunk_end:
        read_chunk_end(p, end, out);
        break;
      case state::trailers:
        read_trailer(p, end, out);
        break;
      case state::dead:
        break;
    }
  }
  return state_ != state::dead;
}

engine::stage engine::current_stage() const {
  if (state_ != state::head && state_ != state::dead) return stage::body;
  // Empty lines before a request line count into head_bytes_: they are part of its head.
  return head_bytes_ == 0 && !lines_.holds_partial() ? stage::idle : stage::head;
}

bool engine::on_eof() {
  // Every complete request was answered by on_data already; a partial one cannot be.
  state_ = state::dead;
  return false;
}

bool engine::next_line(const char*& p, const char* end, std::size_t cap, int too_long_status,
                       std::string_view& line, std::string& out) {
  switch (lines_.next(p, end, cap, line)) {
    case line_reader::result::partial:
      return false;
    case line_reader::result::too_long:
      fail(too_long_status, out);
      return false;
    case line_reader::result::bad_eol:
      fail(400, out);
      return false;
    case line_reader::result::line:
      return true;
  }
  return false;
}

void engine::read_head_line(const char*& p, const char* end, std::string& out) {
  std::string_view line;
  // head_bytes_ <= max_header_bytes always holds: each line is capped by what is left.
  if (!next_line(p, end, limits_.max_header_bytes - head_bytes_, 431, line, out)) return;
  head_bytes_ += line.size() + 2;
  if (!have_request_line_) {
    if (!line.empty()) on_request_line(line, out);
    return;
  }
  if (line.empty()) return on_head_end(p, end, out);
  on_header_line(line, out);
}

void engine::on_request_line(std::string_view line, std::string& out) {
  request_line rl;
  if (const int status = parse_request_line(line, rl); status != 0) return fail(status, out);
  if (rl.verb == method::other) return fail(405, out);
  if (rl.target.front() != '/') return fail(400, out);
  // Decoded now, while `line` may still point into the caller's buffer; the answer for a GET is
  // written when the head ends, possibly several reads later.
  if (!percent_decode(rl.target, target_)) return fail(400, out);
  verb_ = rl.verb;
  minor_ = rl.minor;
  have_request_line_ = true;
}

void engine::on_header_line(std::string_view line, std::string& out) {
  header_field f;
  if (!parse_header_line(line, f)) return fail(400, out);
  switch (classify_header(f.name)) {
    case known_header::content_length: {
      std::uint64_t n = 0;
      if (!parse_content_length(f.value, n)) return fail(400, out);
      if (has_length_ && n != content_length_) return fail(400, out);
      has_length_ = true;
      content_length_ = n;
      break;
    }
    case known_header::transfer_encoding:
      te_seen_ = true;
      for_each_list_element(f.value, [this](std::string_view coding) {
        ++te_codings_;
        te_last_chunked_ = iequals(coding, "chunked");
        te_chunked_ += te_last_chunked_ ? 1 : 0;
      });
      break;
    case known_header::connection:
      for_each_list_element(f.value, [this](std::string_view token) {
        if (iequals(token, "close")) conn_close_ = true;
        if (iequals(token, "keep-alive")) conn_keep_alive_ = true;
      });
      break;
    case known_header::expect:
      if (iequals(f.value, "100-continue")) expect_continue_ = true;
      break;
    case known_header::other:
      break;
  }
}

void engine::on_head_end(const char*& p, const char* end, std::string& out) {
  bool chunked = false;
  if (te_seen_) {
    // Framing the peer and we could disagree on is how smuggling works (RFC 9112 §6.1, §6.3).
    if (minor_ == 0 || has_length_ || !te_last_chunked_ || te_chunked_ > 1) return fail(400, out);
    if (te_codings_ > 1) return fail(501, out);
    chunked = true;
  }
  if (content_length_ > limits_.max_body_bytes) return fail(413, out);
  if (expect_continue_ && minor_ == 1 && (chunked || content_length_ != 0)) write_continue(out);
  if (chunked) {
    state_ = state::chunk_size;
    return;
  }
  if (content_length_ == 0) return finish({}, out);
  remaining_ = content_length_;
  if (echoes_body() && static_cast<std::uint64_t>(end - p) >= remaining_) {
    // The whole body is in this read: uppercase it straight from the caller's buffer.
    const std::string_view body(p, remaining_);
    p += remaining_;
    return finish(body, out);
  }
  state_ = state::body;
}

void engine::read_body(const char*& p, const char* end, std::string& out) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, end - p));
  if (echoes_body()) body_.append(p, n);  // GET/HEAD bodies are read and dropped
  p += n;
  remaining_ -= n;
  if (remaining_ == 0) finish(body_, out);
}

void engine::read_chunk_size(const char*& p, const char* end, std::string& out) {
  std::string_view line;
  if (!next_line(p, end, limits_.max_header_bytes, 400, line, out)) return;
  std::uint64_t size = 0;
  if (!parse_chunk_size(line, size)) return fail(400, out);
  if (size > limits_.max_body_bytes - body_total_) return fail(413, out);
  if (size == 0) {
    head_bytes_ = 0;  // the trailer section gets its own max_header_bytes
    state_ = state::trailers;
    return;
  }
  body_total_ += size;
  remaining_ = size;
  state_ = state::chunk_data;
}

void engine::read_chunk_data(const char*& p, const char* end) {
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, end - p));
  if (echoes_body()) body_.append(p, n);
  p += n;
  remaining_ -= n;
  if (remaining_ == 0) state_ = state::chunk_end;
}

void engine::read_chunk_end(const char*& p, const char* end, std::string& out) {
  std::string_view line;
  // Cap 2: the data must be followed by exactly CRLF; anything else is a framing error.
  if (!next_line(p, end, 2, 400, line, out)) return;
  if (!line.empty()) return fail(400, out);
  state_ = state::chunk_size;
}

void engine::read_trailer(const char*& p, const char* end, std::string& out) {
  std::string_view line;
  if (!next_line(p, end, limits_.max_header_bytes - head_bytes_, 431, line, out)) return;
  head_bytes_ += line.size() + 2;
  if (line.empty()) return finish(body_, out);
  header_field f;
  if (!parse_header_line(line, f)) return fail(400, out);  // well-formed, then ignored
}

void engine::finish(std::string_view body, std::string& out) {
  // HTTP/1.1 persists unless told to close; HTTP/1.0 closes unless asked to keep alive.
  const bool keep = !ending_ && !conn_close_ && (minor_ == 1 || conn_keep_alive_);
  const connection_header c = !keep         ? connection_header::close
                              : minor_ == 0 ? connection_header::keep_alive
                                            : connection_header::none;
  if (echoes_body()) {
    write_ok(out, body.data(), body.size(), true, c);
  } else {
    write_ok(out, target_.data(), target_.size(), verb_ != method::head, c);
  }
  ++requests_;
  reset_request();
  state_ = keep ? state::head : state::dead;
}

void engine::fail(int status, std::string& out) {
  write_error(out, status);
  ++requests_;
  state_ = state::dead;
}

void engine::reset_request() {
  // clear() keeps capacity: after the first few requests nothing here allocates.
  target_.clear();
  body_.clear();
  head_bytes_ = 0;
  have_request_line_ = false;
  verb_ = method::other;
  minor_ = 1;
  has_length_ = false;
  content_length_ = 0;
  te_seen_ = false;
  te_codings_ = 0;
  te_chunked_ = 0;
  te_last_chunked_ = false;
  conn_close_ = false;
  conn_keep_alive_ = false;
  expect_continue_ = false;
  remaining_ = 0;
  body_total_ = 0;
}

}  // namespace echod::server::http
