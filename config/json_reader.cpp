// Typed reads of one JSON object's members (object_reader), each error naming the source, the
// path and the reason; see json_reader.hpp. Turning text into a document is json_parse.cpp's.
#include "config/json_reader.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <exception>

#include <nlohmann/json.hpp>

#include "config/json_text.hpp"
#include "config/units.hpp"

namespace echod::config {
namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string join(std::span<const std::string_view> items) {
  return join(std::vector<std::string>(items.begin(), items.end()));
}

// 300 rather than 300.0 in messages about seconds.
std::string format_number(double value) {
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  return json(value).dump();
}

}  // namespace

object_reader::object_reader(const json& object, std::string path, const error_context& errors)
    : object_(object), path_(std::move(path)), errors_(errors) {
  if (!object_.is_object()) {
    errors_.fail(path_, path_.empty() ? json_text::top_level_reason(object_)
                                      : "expected an object, got " + describe(object_));
  }
}

object_reader::~object_reader() {
  // A reader abandoned without finish() would let unknown keys through silently.
  assert(finished_ || std::uncaught_exceptions() > 0);
}

const json* object_reader::find(std::string_view key) {
  std::string name(key);
  const auto it = object_.find(name);
  if (std::find(known_.begin(), known_.end(), name) == known_.end()) {
    known_.push_back(std::move(name));
  }
  return it == object_.end() ? nullptr : &*it;
}

std::string object_reader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void object_reader::fail(std::string_view key, std::string reason) const {
  errors_.fail(path_of(key), std::move(reason));
}

void object_reader::read_bool(std::string_view key, bool& out) {
  const json* v = find(key);
  if (v == nullptr) return;
  if (!v->is_boolean()) fail(key, "expected true or false, got " + describe(*v));
  out = v->get<bool>();
}

void object_reader::read_string(std::string_view key, std::string& out) {
  const json* v = find(key);
  if (v == nullptr) return;
  if (!v->is_string()) fail(key, "expected a string, got " + describe(*v));
  out = v->get<std::string>();
}

void object_reader::read_enum(std::string_view key, std::string& out,
                              std::initializer_list<std::string_view> choices) {
  if (const auto i = choice_index(key, choices)) out = std::data(choices)[*i];
}

std::optional<std::size_t> object_reader::choice_index(std::string_view key,
                                                       std::span<const std::string_view> choices) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    fail(key, "expected a string (one of " + join(choices) + "), got " + describe(*v));
  }
  const auto& text = v->get_ref<const std::string&>();
  const auto at = std::find(choices.begin(), choices.end(), text);
  if (at == choices.end()) fail(key, "must be one of " + join(choices) + ", got " + brief(*v));
  return static_cast<std::size_t>(at - choices.begin());
}

std::optional<std::uint64_t> object_reader::uint_field(std::string_view key, std::uint64_t lo,
                                                       std::uint64_t hi, bool allow_auto) {
  const json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (allow_auto && v->is_string() && v->get_ref<const std::string&>() == "auto") return 0;
  if (!v->is_number_integer()) {
    fail(key, std::string(allow_auto ? "expected an integer or \"auto\"" : "expected an integer") +
                  ", got " + describe(*v));
  }
  // A negative integer is number_integer but not number_unsigned: out of range for any lo.
  if (!v->is_number_unsigned() || v->get<std::uint64_t>() < lo || v->get<std::uint64_t>() > hi) {
    fail(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                  brief(*v));
  }
  return v->get<std::uint64_t>();
}

void object_reader::read_size(std::string_view key, std::uint64_t& out, std::uint64_t lo,
                              std::uint64_t hi) {
  const json* v = find(key);
  if (v == nullptr) return;
  std::optional<std::uint64_t> bytes;
  if (v->is_number_unsigned()) {
    bytes = v->get<std::uint64_t>();
  } else if (v->is_number_integer()) {
    // negative: reported as out of range below
  } else if (v->is_string()) {
    bytes = parse_size(v->get_ref<const std::string&>());
    if (!bytes) {
      fail(key, "invalid size " + brief(*v) +
                    " (expected an integer number of bytes, or an integer with a unit: B, K/KiB, "
                    "M/MiB, G/GiB)");
    }
  } else {
    fail(key, "expected a size (an integer number of bytes or a string like \"64KiB\"), got " +
                  describe(*v));
  }
  if (!bytes || *bytes < lo || *bytes > hi) {
    fail(key,
         "must be between " + format_size(lo) + " and " + format_size(hi) + ", got " + brief(*v));
  }
  out = *bytes;
}

void object_reader::read_seconds(std::string_view key, double& out, double lo, double hi,
                                 bool lo_inclusive) {
  const json* v = find(key);
  if (v == nullptr) return;
  double seconds = 0;
  if (v->is_number()) {
    seconds = v->get<double>();
  } else if (v->is_string()) {
    const auto d = parse_duration(v->get_ref<const std::string&>());
    if (!d) {
      fail(key, "invalid duration " + brief(*v) +
                    " (expected a number of seconds, or a number with a unit: ns, us, ms, s, m, "
                    "h, e.g. \"500ms\")");
    }
    seconds = static_cast<double>(d->count()) / 1e9;
  } else {
    fail(key,
         "expected a number of seconds or a duration string like \"500ms\", got " + describe(*v));
  }
  const bool low_ok = lo_inclusive ? seconds >= lo : seconds > lo;
  if (!low_ok || !(seconds <= hi)) {
    fail(key, (lo_inclusive ? "must be between " + format_number(lo) + " and "
                            : "must be greater than " + format_number(lo) + " and at most ") +
                  format_number(hi) + " seconds, got " + brief(*v));
  }
  out = seconds;
}

void object_reader::read_duration(std::string_view key, std::chrono::nanoseconds& out, double lo,
                                  double hi, bool lo_inclusive) {
  double seconds = 0;
  if (find(key) == nullptr) return;
  read_seconds(key, seconds, lo, hi, lo_inclusive);
  out = std::chrono::nanoseconds(std::llround(seconds * 1e9));
}

void object_reader::finish() {
  finished_ = true;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (std::find(known_.begin(), known_.end(), it.key()) == known_.end()) {
      fail(json_text::clip(it.key()), "unknown key (known: " + join(known_) + ")");
    }
  }
}

}  // namespace echod::config
