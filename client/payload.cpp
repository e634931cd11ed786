// Payload generation (see payload.hpp).
#include "client/payload.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

namespace echod::client {
namespace {

// 61 rotations: prime, so message k and k+61 repeat but no power-of-two stride lines them up.
constexpr std::size_t rotation_variants = 61;

// Lower case first and more of it: most bytes change under the uppercase transform, and the
// rest (upper case, digits, punctuation) must come back unchanged.
constexpr char ascii_alphabet[] =
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("--payload file:" + path + ": cannot read: " + std::strerror(errno));
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) throw std::runtime_error("--payload file:" + path + ": the file is empty");
  return bytes;
}

// Python's bytes.upper(), a byte at a time: echoload's own definition of the reply, deliberately
// not echod's vectorised transform/upper.hpp, which is what it checks.
char upper_byte(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

payload payload::make(const std::string& kind, std::size_t size, transform expect) {
  payload p;
  if (kind.rfind("file:", 0) == 0) {
    p.messages_ = read_file(kind.substr(5));
    p.size_ = p.messages_.size();
    p.variants_ = 1;
  } else {
    p.size_ = size;
    p.variants_ = rotation_variants;
    p.messages_.resize(size + p.variants_ - 1);
    std::mt19937_64 rng(0x6563686f6c6f6164);  // "echoload": fixed, so runs are reproducible
    if (kind == "random") {
      std::uniform_int_distribution<int> byte(0, 255);
      for (char& c : p.messages_) c = static_cast<char>(byte(rng));
    } else {
      std::uniform_int_distribution<std::size_t> pick(0, sizeof ascii_alphabet - 2);
      for (char& c : p.messages_) c = ascii_alphabet[pick(rng)];
    }
  }
  p.expected_.resize(p.messages_.size());
  if (expect == transform::upper) {
    std::transform(p.messages_.begin(), p.messages_.end(), p.expected_.begin(), upper_byte);
  } else {
    std::memcpy(p.expected_.data(), p.messages_.data(), p.messages_.size());
  }
  return p;
}

}  // namespace echod::client
