// Serialises the engine's responses straight into the caller's output buffer: 200 text/plain
// with an uppercased body, the short error responses, and "100 Continue". Headers are the
// minimum wrk and curl need (no Date, no Server): every byte here is paid per request.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace echod::server::http {

enum class connection_header : std::uint8_t { none, close, keep_alive };

/// Appends a 200 response whose body is upper(body[0..n)); `with_body` false (HEAD) keeps the
/// Content-Length of that body but sends no body.
void write_ok(std::string& out, const char* body, std::size_t n, bool with_body,
              connection_header c);

/// Appends an error response with a one-line text/plain reason and `Connection: close`; 405 also
/// carries `Allow`. `status` is one of 400, 405, 413, 431, 501, 505.
void write_error(std::string& out, int status);

/// Appends `HTTP/1.1 100 Continue` (for a request that sent `Expect: 100-continue`).
void write_continue(std::string& out);

}  // namespace echod::server::http
