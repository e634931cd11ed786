// Building blocks for a validated JSON config: parse text (syntax errors with line:column, keys
// repeated in one object rejected), apply "--set key=value" overrides, then read typed fields
// with object_reader, which names the source, the JSON path and the reason in every error and
// rejects keys nobody read. Knows no particular config: server_config.cpp (and the client's
// config) describe their fields with it. Only config .cpp files should include this header; it
// pulls in nlohmann/json_fwd.hpp, and code that just uses a config struct needs none of it.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/choices.hpp"
#include "config/config_error.hpp"

namespace echod::config {

/// The source name errors use for values that came from a "--set key=value" override.
inline constexpr std::string_view override_source = "--set";

/// The largest config document read or parsed, in bytes: far beyond any real config, and it
/// bounds the memory and time a hostile file can cost ("-c /dev/zero" stops here).
inline constexpr std::size_t max_document_bytes = 1 << 20;
/// The deepest nesting of arrays and objects accepted: configs need three levels. Enforced while
/// parsing, so a document nested 70,000 deep is an error instead of a deep value that anything
/// recursive (serialising, comparing) would overflow the stack on.
inline constexpr std::size_t max_nesting_depth = 64;

/// Where a document's values came from, so an error can blame the file or the override.
class error_context {
 public:
  explicit error_context(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }
  /// Errors at `path` or anywhere below it ("path.x", "path[3]") now name "--set" as the source.
  void add_override(std::string path) { overridden_.push_back(std::move(path)); }
  std::string source_of(std::string_view path) const;
  /// Throws config_error(source_of(path), path, reason).
  [[noreturn]] void fail(const std::string& path, std::string reason) const;

 private:
  std::string source_;
  std::vector<std::string> overridden_;
};

/// Parses `text` as one JSON value and throws nothing but config_error. Syntax errors throw
/// "SOURCE:LINE:COLUMN: invalid JSON: ..."; a key repeated within one object throws
/// "SOURCE: PATH: duplicate key" (nlohmann/json would silently keep the last one, hiding an edit
/// that does nothing); a number beyond a double ("1e999") throws "SOURCE: PATH: number out of
/// range: 1e999"; nesting deeper than max_nesting_depth and text longer than max_document_bytes
/// are errors too.
nlohmann::json parse_json(std::string_view text, std::string_view source);

/// The whole file as text, at most max_document_bytes. Never blocks: a FIFO, socket or directory
/// is refused before anything is read ("PATH: is a FIFO, not a regular file"), and a device is
/// read without waiting. Throws config_error "PATH: cannot read: <strerror>", or "PATH: larger
/// than the 1MiB limit for a config file".
std::string read_text_file(const std::string& path);

/// Applies overrides "a.b.c=value" in order to `root`: the key is a dotted path of object
/// members (missing objects on the way are created); the value is parsed as JSON when it parses
/// ("4", "false", "[\"a\",\"b\"]") and taken as a plain string otherwise ("epoll", "64KiB").
/// Each path is recorded in `errors`, so later validation errors there name "--set". Throws
/// config_error when `root` is not an object, an override has no '=' or an empty path segment,
/// or a path goes through a value that is not an object.
void apply_overrides(nlohmann::json& root, const std::vector<std::string>& overrides,
                     error_context& errors);

/// A value for "got ..." in messages: `string "four"`, `number 4.5`, `boolean true`, `null`,
/// `array [1,2]`, `object {"a":1}` (long values shortened).
std::string describe(const nlohmann::json& value);
/// The value as compact JSON text, shortened to about 60 bytes: `0`, `"8KiB"`, `[1,2]`,
/// `[[[[[[[...`. Costs O(60) whatever the value's size or depth: it walks without recursion and
/// stops writing at the limit.
std::string brief(const nlohmann::json& value);

/// Reads the members of one JSON object. Every read_* registers its key as known and leaves
/// `out` untouched when the key is absent, so a struct's default member values are the defaults.
/// Call finish() after the last read: it rejects any member no read asked about.
class object_reader {
 public:
  /// `object` and `errors` must outlive the reader; `path` is "" for the top level. Throws
  /// unless `object` is a JSON object.
  object_reader(const nlohmann::json& object, std::string path, const error_context& errors);
  ~object_reader();
  object_reader(const object_reader&) = delete;
  object_reader& operator=(const object_reader&) = delete;

  /// Registers `key` as known; its value, or nullptr when absent.
  const nlohmann::json* find(std::string_view key);
  /// "http.max_body_bytes" for key "max_body_bytes" of the object at "http".
  std::string path_of(std::string_view key) const;
  const error_context& errors() const { return errors_; }
  /// Throws config_error naming path_of(key).
  [[noreturn]] void fail(std::string_view key, std::string reason) const;

  void read_bool(std::string_view key, bool& out);
  void read_string(std::string_view key, std::string& out);
  /// A string that must be one of `choices`.
  void read_enum(std::string_view key, std::string& out,
                 std::initializer_list<std::string_view> choices);
  /// One of config/choices.hpp's names, as its enumerator.
  template <class E>
  void read_choice(std::string_view key, E& out) {
    if (const auto i = choice_index(key, choice_names<E>::names)) out = static_cast<E>(*i);
  }
  /// An integer in [lo, hi].
  template <std::unsigned_integral T>
  void read_uint(std::string_view key, T& out, std::uint64_t lo, std::uint64_t hi) {
    if (const auto v = uint_field(key, lo, hi, false)) out = static_cast<T>(*v);
  }
  /// An integer in [lo, hi] or the string "auto", which reads as 0.
  template <std::unsigned_integral T>
  void read_uint_or_auto(std::string_view key, T& out, std::uint64_t lo, std::uint64_t hi) {
    if (const auto v = uint_field(key, lo, hi, true)) out = static_cast<T>(*v);
  }
  /// Bytes in [lo, hi]: an integer or a string parse_size accepts ("64KiB").
  void read_size(std::string_view key, std::uint64_t& out, std::uint64_t lo, std::uint64_t hi);
  /// Seconds in [lo, hi] (or (lo, hi] when !lo_inclusive): a number or a string parse_duration
  /// accepts ("500ms").
  void read_seconds(std::string_view key, double& out, double lo, double hi, bool lo_inclusive);
  /// read_seconds, as a duration rounded to the nearest nanosecond.
  void read_duration(std::string_view key, std::chrono::nanoseconds& out, double lo, double hi,
                     bool lo_inclusive);

  /// Throws for the first member that no read registered: "PATH: unknown key (known: a, b)".
  void finish();

 private:
  // The index in `choices` of the string at `key`, or nullopt when absent.
  std::optional<std::size_t> choice_index(std::string_view key,
                                          std::span<const std::string_view> choices);
  std::optional<std::uint64_t> uint_field(std::string_view key, std::uint64_t lo, std::uint64_t hi,
                                          bool allow_auto);

  const nlohmann::json& object_;
  std::string path_;
  const error_context& errors_;
  std::vector<std::string> known_;
  bool finished_ = false;
};

}  // namespace echod::config
