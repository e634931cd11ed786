// HdrHistogram encoding and interval log (see hdr_log.hpp). The encoding follows HdrHistogram's
// AbstractHistogram.encodeIntoCompressedByteBuffer: big-endian headers, counts up to the max
// value's index, runs of zero counts written as one negative count.
#include "client/hdr_log.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

namespace echod::client {
namespace {

constexpr std::uint32_t v2_encoding_cookie = 0x1c849303 | 0x10;
constexpr std::uint32_t v2_compressed_encoding_cookie = 0x1c849304 | 0x10;
constexpr std::uint32_t significant_digits = 2;  // 2 digits: 128 sub-buckets per power of two
constexpr double max_value_unit_ratio = 1e6;     // Interval_Max in ms, values in ns

class bytes {
 public:
  void u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out_.push_back(static_cast<unsigned char>(v >> s));
  }
  void u64(std::uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out_.push_back(static_cast<unsigned char>(v >> s));
  }
  void f64(double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    u64(v);
  }
  // ZigZag, then LEB128 of at most 9 bytes, the ninth carrying 8 bits (HdrHistogram's
  // ZigZagEncoding.putLong).
  void zigzag(std::int64_t v) {
    std::uint64_t z = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    for (int i = 0; i < 8; ++i) {
      if (z < 0x80) {
        out_.push_back(static_cast<unsigned char>(z));
        return;
      }
      out_.push_back(static_cast<unsigned char>((z & 0x7f) | 0x80));
      z >>= 7;
    }
    out_.push_back(static_cast<unsigned char>(z));
  }
  void put_u32_at(std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
      out_[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (24 - 8 * i));
  }
  std::vector<unsigned char>& data() { return out_; }

 private:
  std::vector<unsigned char> out_;
};

std::string base64(const std::vector<unsigned char>& in) {
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{in[i]} << 16) |
                            (i + 1 < in.size() ? std::uint32_t{in[i + 1]} << 8 : 0) |
                            (i + 2 < in.size() ? std::uint32_t{in[i + 2]} : 0);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += i + 1 < in.size() ? table[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? table[n & 63] : '=';
  }
  return out;
}

std::string utc_text(std::int64_t unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace

std::string hdr_compressed_base64(const histogram_snapshot& h) {
  bytes plain;
  plain.u32(v2_encoding_cookie);
  plain.u32(0);  // payload length, filled in below
  plain.u32(0);  // normalizing index offset
  plain.u32(significant_digits);
  plain.u64(1);  // lowest discernible value
  plain.u64(histogram::max_trackable);
  plain.f64(1.0);  // integer to double value conversion ratio
  const std::size_t payload_start = plain.data().size();
  // Counts 0 .. index_of(max), zero runs as one negative count (a single zero stays 0).
  const std::size_t limit = histogram::index_of(h.max) + 1;
  std::size_t next = 0;  // the index the encoded counts have reached
  for (const auto& [index, n] : h.buckets) {
    if (index > next) {
      const std::size_t zeros = index - next;
      plain.zigzag(zeros > 1 ? -static_cast<std::int64_t>(zeros) : 0);
    }
    plain.zigzag(static_cast<std::int64_t>(n));
    next = index + 1;
  }
  if (next < limit) {
    const std::size_t zeros = limit - next;
    plain.zigzag(zeros > 1 ? -static_cast<std::int64_t>(zeros) : 0);
  }
  plain.put_u32_at(4, static_cast<std::uint32_t>(plain.data().size() - payload_start));

  uLongf deflated_size = compressBound(static_cast<uLong>(plain.data().size()));
  std::vector<unsigned char> deflated(deflated_size);
  if (compress2(deflated.data(), &deflated_size, plain.data().data(),
                static_cast<uLong>(plain.data().size()), Z_DEFAULT_COMPRESSION) != Z_OK) {
    throw std::runtime_error("zlib compress2 failed");
  }
  bytes out;
  out.u32(v2_compressed_encoding_cookie);
  out.u32(static_cast<std::uint32_t>(deflated_size));
  out.data().insert(out.data().end(), deflated.begin(),
                    deflated.begin() + static_cast<std::ptrdiff_t>(deflated_size));
  return base64(out.data());
}

std::string hdr_log_text(const run_result& r) {
  const double base = r.timeline.empty() ? 0.0
                                         : static_cast<double>(r.timeline.front().second) +
                                               r.timeline.front().offset_s;
  std::string out;
  out += "#[echoload " + r.target + ": latency in ns, one interval a second; untagged: " +
         (r.open_loop ? "corrected latency (from each message's due time); Tag=uncorrected: "
                        "service time (from the actual send)"
                      : "latency from the start of each message's write") +
         "; warm-up and wind-down left out]\n";
  out += "#[Histogram log format version 1.3]\n";
  out += fmt::format("#[StartTime: {:.3f} (seconds since epoch), {}]\n", base,
                     utc_text(static_cast<std::int64_t>(base)));
  out += fmt::format("#[BaseTime: {:.3f} (seconds since epoch)]\n", base);
  out +=
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  for (const interval& i : r.timeline) {
    if (i.when != phase::measured) continue;
    const double start = static_cast<double>(i.second) + i.offset_s - base;
    out += fmt::format("{:.3f},{:.3f},{:.3f},{}\n", start, i.length_s,
                       static_cast<double>(i.latency.max) / max_value_unit_ratio,
                       hdr_compressed_base64(i.latency));
    if (r.open_loop) {
      out += fmt::format("Tag=uncorrected,{:.3f},{:.3f},{:.3f},{}\n", start, i.length_s,
                         static_cast<double>(i.service.max) / max_value_unit_ratio,
                         hdr_compressed_base64(i.service));
    }
  }
  return out;
}

}  // namespace echod::client
