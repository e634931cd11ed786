// JSON parsing with located errors, "--set" overrides and typed field reads; see json_reader.hpp.
#include "config/json_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <set>

#include <nlohmann/json.hpp>

#include "config/units.hpp"

namespace echod::config {
namespace {

using json = nlohmann::json;

// How long a quoted value, key or number may get in a message before it is cut with "...".
constexpr std::size_t message_value_bytes = 60;

// `text` cut to at most `limit` bytes, ending in "..." when cut, never inside a UTF-8 sequence.
std::string clip(std::string text, std::size_t limit = message_value_bytes) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

// A JSON syntax error: the one parse failure after which an override's value is taken as a
// plain string. Every other failure (depth, number range, duplicate key) is reported.
class json_syntax_error : public config_error {
 public:
  using config_error::config_error;
};

// Watches nlohmann's parse events: rejects a key repeated in one object and nesting deeper than
// max_nesting_depth (before the parser builds it), and tracks where the parser is ("a.b[2]") so
// errors can name the path; nlohmann's callback reports events, not positions.
class parse_tracker {
 public:
  explicit parse_tracker(std::string_view source) : source_(source) {}

  bool on_event(json::parse_event_t event, const json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (frames_.size() == max_nesting_depth) {
          throw config_error(
              source_, path(),
              "nested deeper than " + std::to_string(max_nesting_depth) + " arrays and objects");
        }
        frames_.push_back({event == json::parse_event_t::array_start, 0, {}, {}});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames_.pop_back();
        element_done();
        break;
      case json::parse_event_t::key: {
        frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) throw config_error(source_, path(), "duplicate key");
        break;
      }
      case json::parse_event_t::value:
        element_done();
        break;
    }
    return true;  // keep every value
  }

  // Where the parser is: the member or element being parsed. Long keys are clipped.
  std::string path() const {
    std::string out;
    for (const frame& f : frames_) {
      if (f.is_array) {
        out += "[" + std::to_string(f.index) + "]";
      } else {
        out += (out.empty() ? "" : ".") + clip(f.key);
      }
    }
    return out;
  }

 private:
  struct frame {
    bool is_array;
    std::size_t index;  // arrays: the element being parsed
    std::string key;    // objects: the member being parsed
    std::set<std::string> keys;
  };

  void element_done() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }

  std::string source_;
  std::vector<frame> frames_;
};

// nlohmann reports the byte (1-based) it stopped at; turn it into line:column, counting bytes.
// Its own "line N, column M" says column 0 when it stopped on a newline, which points nowhere.
std::pair<unsigned, unsigned> line_column(std::string_view text, std::size_t byte) {
  const std::size_t index = std::min(byte == 0 ? 0 : byte - 1, text.size());
  const std::string_view before = text.substr(0, index);
  const auto line = 1 + std::count(before.begin(), before.end(), '\n');
  const std::size_t last_newline = before.rfind('\n');
  const std::size_t column =
      last_newline == std::string_view::npos ? index + 1 : index - last_newline;
  return {static_cast<unsigned>(line), static_cast<unsigned>(column)};
}

// "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." -> the
// part after the position, which is what the user needs.
std::string parse_error_reason(const std::string& what) {
  const std::size_t at = what.find("parse error at line ");
  if (at != std::string::npos) {
    const std::size_t colon = what.find(": ", at);
    if (colon != std::string::npos) return what.substr(colon + 2);
  }
  const std::size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

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

std::string top_level_reason(const json& root) {
  return "expected a JSON object at the top level, got " + describe(root);
}

[[noreturn]] void file_error(const std::string& path, std::string reason) {
  throw config_error(path, "", std::move(reason));
}

std::vector<std::string> split_dotted(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    parts.emplace_back(key.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

}  // namespace

std::string error_context::source_of(std::string_view path) const {
  for (const std::string& set : overridden_) {
    if (path.starts_with(set) &&
        (path.size() == set.size() || path[set.size()] == '.' || path[set.size()] == '[')) {
      return std::string(override_source);
    }
  }
  return source_;
}

void error_context::fail(const std::string& path, std::string reason) const {
  throw config_error(source_of(path), path, std::move(reason));
}

json parse_json(std::string_view text, std::string_view source) {
  if (text.size() > max_document_bytes) {
    throw config_error(
        std::string(source), "",
        "larger than the " + format_size(max_document_bytes) + " limit for a config document");
  }
  parse_tracker tracker(source);
  try {
    return json::parse(
        text.begin(), text.end(),
        [&tracker](int /*depth*/, json::parse_event_t event, json& parsed) {
          return tracker.on_event(event, parsed);
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    const auto [line, column] = line_column(text, e.byte);
    throw json_syntax_error(std::string(source), "",
                            "invalid JSON: " + parse_error_reason(e.what()), line, column);
  } catch (const json::out_of_range& e) {
    // 406, "number overflow parsing '1e999'": a number no double holds. Name it and its place.
    const std::string what = e.what();
    const std::size_t quote = what.find('\'');
    const std::string number =
        quote == std::string::npos ? "" : what.substr(quote + 1, what.size() - quote - 2);
    throw config_error(
        std::string(source), tracker.path(),
        number.empty() ? "number out of range" : "number out of range: " + clip(number));
  } catch (const json::exception& e) {
    throw config_error(std::string(source), tracker.path(),
                       "invalid JSON: " + parse_error_reason(e.what()));
  }
}

std::string read_text_file(const std::string& path) {
  const auto fail = [&path](std::string reason) { file_error(path, std::move(reason)); };
  const auto fail_errno = [&path](int err) {
    file_error(path, std::string("cannot read: ") + std::strerror(err));
  };
  const std::string too_large =
      "larger than the " + format_size(max_document_bytes) + " limit for a config file";
  // O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one, and the master reads
  // its config in its only thread (a reload must never hang it). Regular files ignore the flag.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) fail_errno(errno);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno(errno);
  if (S_ISDIR(st.st_mode)) fail_errno(EISDIR);
  // A pipe or socket has no end until its writer says so: refuse it rather than wait. Character
  // devices (/dev/null, /dev/zero) are read without blocking, within the size limit.
  if (S_ISFIFO(st.st_mode)) fail("is a FIFO, not a regular file (a config must be a file)");
  if (S_ISSOCK(st.st_mode)) fail("is a socket, not a regular file (a config must be a file)");
  if (S_ISBLK(st.st_mode)) fail("is a block device, not a regular file (a config must be a file)");
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_document_bytes) {
    fail(too_large);
  }
  std::string text;
  char buffer[16384];
  // One byte past the limit tells a file that is too large (or grew) from one that fits.
  while (text.size() <= max_document_bytes) {
    const std::size_t room = std::min(sizeof buffer, max_document_bytes + 1 - text.size());
    const ssize_t n = ::read(fd, buffer, room);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return text;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      fail("cannot read: the device has no data ready (a config must be a file)");
    } else if (errno != EINTR) {
      fail_errno(errno);
    }
  }
  file_error(path, too_large);
}

void apply_overrides(json& root, const std::vector<std::string>& overrides, error_context& errors) {
  if (!root.is_object()) errors.fail("", top_level_reason(root));
  const std::string source(override_source);
  for (const std::string& item : overrides) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw config_error(source, "", "expected key=value (e.g. processes=4), got " + brief(item));
    }
    const std::string key = item.substr(0, eq);
    const std::vector<std::string> parts = split_dotted(key);
    if (std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); })) {
      throw config_error(
          source, "",
          "expected a dotted key such as http.max_body_bytes before '=', got " + brief(item));
    }
    // JSON when it parses (numbers, booleans, arrays, objects), else the text itself, so
    // "backend=epoll" needs no shell-quoted JSON string. Valid JSON that breaks a limit (a
    // number beyond a double, deep nesting) is an error, not a string.
    const std::string text = item.substr(eq + 1);
    json value;
    try {
      value = parse_json(text, source);
    } catch (const json_syntax_error&) {
      value = text;
    } catch (const config_error& e) {
      const std::string& at = e.path();
      throw config_error(source, clip(key) + (at.empty() || at[0] == '[' ? "" : ".") + at,
                         e.reason());
    }
    json* node = &root;
    std::string walked;
    // The outermost object this override creates: everything in it came from --set, so errors
    // there blame --set ("--set http.max_body_bytes.x=1" makes max_body_bytes an object).
    std::string created;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      walked += (walked.empty() ? "" : ".") + parts[i];
      if (!node->contains(parts[i])) {
        (*node)[parts[i]] = json::object();
        if (created.empty()) created = walked;
      }
      json& child = (*node)[parts[i]];
      if (!child.is_object()) {
        throw config_error(
            source, clip(key),
            "cannot set a member of " + clip(walked) + ", which is " + describe(child));
      }
      node = &child;
    }
    (*node)[parts.back()] = std::move(value);
    errors.add_override(created.empty() ? key : created);
  }
}

std::string brief(const json& value) {
  // Writes compact JSON with an explicit stack instead of dump(), which recurses and writes the
  // whole value: either could be unbounded. Stops a few bytes past the limit, then clips.
  const auto scalar = [](const json& v) {
    // replace: an override's fallback string may hold any bytes, and dump() throws on bad UTF-8.
    constexpr auto replace = json::error_handler_t::replace;
    if (!v.is_string()) return v.dump(-1, ' ', false, replace);
    const auto& s = v.get_ref<const std::string&>();
    return json(s.substr(0, message_value_bytes + 1)).dump(-1, ' ', false, replace);
  };
  struct level {
    const json* container;
    json::const_iterator next;
  };
  std::vector<level> open;
  std::string out;
  const json* v = &value;
  while (out.size() <= message_value_bytes) {
    if (v != nullptr) {
      if (v->is_structured()) {
        out += v->is_array() ? '[' : '{';
        open.push_back({v, v->cbegin()});
      } else {
        out += scalar(*v);
      }
      v = nullptr;
    }
    if (open.empty()) break;
    level& top = open.back();
    if (top.next == top.container->cend()) {
      out += top.container->is_array() ? ']' : '}';
      open.pop_back();
      continue;
    }
    if (top.next != top.container->cbegin()) out += ',';
    if (top.container->is_object()) out += scalar(json(top.next.key())) + ':';
    v = &*top.next;
    ++top.next;
  }
  return clip(std::move(out));
}

std::string describe(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean " + brief(value);
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number " + brief(value);
    case json::value_t::string:
      return "string " + brief(value);
    case json::value_t::array:
      return "array " + brief(value);
    case json::value_t::object:
      return "object " + brief(value);
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return "a non-JSON value";
}

object_reader::object_reader(const json& object, std::string path, const error_context& errors)
    : object_(object), path_(std::move(path)), errors_(errors) {
  if (!object_.is_object()) {
    errors_.fail(path_, path_.empty() ? top_level_reason(object_)
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
      fail(clip(it.key()), "unknown key (known: " + join(known_) + ")");
    }
  }
}

}  // namespace echod::config
