// The reason phrase of every HTTP status echod sends (RFC 9110 §15), for both of its HTTP
// speakers: the http service's responses (http_response.cpp) and the admin endpoint.
#pragma once

#include <string_view>

namespace echod::server::http {

/// "Not Found" for 404; "Internal Server Error" for a status echod never sends.
constexpr std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Internal Server Error";
  }
}

}  // namespace echod::server::http
