// The bytes echoload sends and the bytes it must get back. Built once before the run and shared
// read-only by every thread: a pool of message bytes and the same pool passed through the
// service's transform (for --expect upper, echoload's own scalar bytes.upper()), so checking a
// reply is a memcmp against a precomputed buffer with no allocation per message. Message k of a
// connection starts at offset (k mod variants) in the pool, so consecutive messages differ and a
// server that replays, reorders or mixes up replies is caught; a file payload is sent as is (one
// variant).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace echod::client {

enum class transform { upper, echo };

class payload {
 public:
  /// `kind` is "ascii" (mixed-case letters, digits and punctuation, so the uppercase transform
  /// is exercised), "random" (every byte value) or "file:PATH" (the file's bytes; the message
  /// size is the file's size). Deterministic: the same arguments give the same bytes. Throws
  /// std::runtime_error when the file cannot be read or is empty.
  static payload make(const std::string& kind, std::size_t size, transform expect);

  std::size_t size() const { return size_; }
  std::size_t variants() const { return variants_; }
  /// The message with sequence number `seq`, and the reply it must get.
  const char* message(std::uint64_t seq) const { return messages_.data() + offset(seq); }
  const char* expected(std::uint64_t seq) const { return expected_.data() + offset(seq); }

 private:
  std::size_t offset(std::uint64_t seq) const {
    return variants_ == 1 ? 0 : static_cast<std::size_t>(seq % variants_);
  }

  std::size_t size_ = 0;
  std::size_t variants_ = 1;
  std::vector<char> messages_;  ///< size_ + variants_ - 1 bytes
  std::vector<char> expected_;  ///< transform(messages_)
};

}  // namespace echod::client
