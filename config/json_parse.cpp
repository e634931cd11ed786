// JSON text to a document: parsing with located errors (line:column, duplicate keys, depth,
// number range), reading a config file without blocking, and "--set" overrides; see
// json_reader.hpp. Reading typed fields out of the document is json_reader.cpp's.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "config/json_reader.hpp"
#include "config/json_text.hpp"
#include "config/units.hpp"

namespace echod::config {
namespace {

using json = nlohmann::json;
using json_text::clip;

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
  if (!root.is_object()) errors.fail("", json_text::top_level_reason(root));
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

}  // namespace echod::config
