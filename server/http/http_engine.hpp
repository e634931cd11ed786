// The HTTP/1.1 side of echod's `service: "http"`: an incremental, I/O-free state machine that
// turns request bytes into response bytes. Keep-alive, pipelining, HTTP/1.0, Content-Length and
// chunked bodies; POST/PUT echo the uppercased body, GET/HEAD the uppercased decoded target.
// Input may be split at any byte; the output for a byte stream never depends on the split.
// It does no I/O, keeps no timers (the service sets the connection's deadlines from stage()) and
// never sends a request body back before the whole request has arrived.
//
// Decisions (RFC 9112 allows several of these to be lenient; we are strict but sane):
// - lines end in CRLF; a bare LF anywhere in the head, a chunk line or a trailer is 400.
// - empty lines before a request line are skipped (RFC 9112 §2.2), but count toward the limit.
// - only origin-form targets ("/..."): absolute-form and "*" are 400 (after the 405 check).
// - Host is not required, so hand-written test requests work.
// - every error response, 405 included, carries `Connection: close` and ends the connection.
// - Transfer-Encoding must be exactly "chunked": not ending in chunked is 400, other codings 501;
//   Transfer-Encoding in HTTP/1.0 is 400. Identical duplicate Content-Length values are allowed.
// - `Expect: 100-continue` on an HTTP/1.1 request with a body gets `100 Continue` at once.
// - the chunk-size line is capped at max_header_bytes (400 beyond), trailers together too (431).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/http/http_parse.hpp"
#include "server/http/line_reader.hpp"

namespace echod::server::http {

/// Bounds on what one request may make the engine buffer.
struct limits {
  std::size_t max_header_bytes = 8192;   ///< request line + headers incl. CRLFs, else 431
  std::size_t max_body_bytes = 1 << 20;  ///< declared or accumulated body, else 413
};

/// One connection's HTTP/1.1 protocol state. Not thread-safe; one per connection.
class engine {
 public:
  explicit engine(limits l);

  /// Consumes all of `in` and appends the responses to every request it completes to `out`.
  /// Returns false when the connection must close once `out` is sent; later input is ignored.
  bool on_data(std::string_view in, std::string& out);

  /// The peer half-closed. A partial request is dropped unanswered. Always returns false.
  bool on_eof();

  /// The worker is draining (a reload or a stop): the next response carries `Connection: close`
  /// and ends the connection, so the client reconnects to a worker that stays instead of
  /// sending a request on a socket that is about to close.
  void end_keep_alive() { ending_ = true; }

  /// Responses produced so far, errors included (not `100 Continue`).
  std::uint64_t requests() const { return requests_; }

  /// Where the next request stands: nothing of it read yet, inside its head, or inside its body
  /// (chunk framing and trailers included). What the HTTP deadlines are measured against.
  enum class stage : std::uint8_t { idle, head, body };
  stage current_stage() const;

 private:
  enum class state : std::uint8_t { head, body, chunk_size, chunk_data, chunk_end, trailers, dead };

  // The next line, at most `cap` bytes, into `line`. False when it is not complete yet, or when the
  // framing is broken: then the error reply (too_long_status for a line over the cap, else 400) is
  // in `out` and the engine is dead.
  bool next_line(const char*& p, const char* end, std::size_t cap, int too_long_status,
                 std::string_view& line, std::string& out);
  void read_head_line(const char*& p, const char* end, std::string& out);
  void on_request_line(std::string_view line, std::string& out);
  void on_header_line(std::string_view line, std::string& out);
  void on_head_end(const char*& p, const char* end, std::string& out);
  void read_body(const char*& p, const char* end, std::string& out);
  void read_chunk_size(const char*& p, const char* end, std::string& out);
  void read_chunk_data(const char*& p, const char* end);
  void read_chunk_end(const char*& p, const char* end, std::string& out);
  void read_trailer(const char*& p, const char* end, std::string& out);
  void finish(std::string_view body, std::string& out);
  void fail(int status, std::string& out);
  void reset_request();
  bool echoes_body() const { return verb_ == method::post || verb_ == method::put; }

  limits limits_;
  state state_ = state::head;
  line_reader lines_;
  std::string target_;  // decoded target of the current request; capacity reused
  std::string body_;    // body cut by a read boundary, or a chunked body; capacity reused
  std::uint64_t requests_ = 0;
  bool ending_ = false;  // end_keep_alive() was called

  // The current request; reset_request() returns all of these to their defaults.
  std::size_t head_bytes_ = 0;  // head (or trailer section) bytes so far, CRLFs included
  bool have_request_line_ = false;
  method verb_ = method::other;
  int minor_ = 1;
  bool has_length_ = false;
  std::uint64_t content_length_ = 0;
  bool te_seen_ = false;          // any Transfer-Encoding line, even an empty one
  std::uint32_t te_codings_ = 0;  // transfer codings listed, over every Transfer-Encoding line
  std::uint32_t te_chunked_ = 0;  // how many of them are "chunked"
  bool te_last_chunked_ = false;
  bool conn_close_ = false;
  bool conn_keep_alive_ = false;
  bool expect_continue_ = false;
  std::uint64_t remaining_ = 0;   // bytes left of the Content-Length body or current chunk
  std::uint64_t body_total_ = 0;  // chunked: sum of chunk sizes so far
};

}  // namespace echod::server::http
