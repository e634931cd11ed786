// The one exception the config layer throws: bad JSON, unknown keys, wrong types, out-of-range
// values, malformed "--set" overrides, unreadable files. Its what() is meant to be printed as is:
// "SOURCE: PATH: REASON", or "SOURCE:LINE:COLUMN: REASON" for JSON syntax errors.
// Header-only and free of nlohmann/json so server code can catch it without parsing anything.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace echod::config {

class config_error : public std::runtime_error {
 public:
  /// `source` is a file name, "--set" or "<string>"; `path` is a JSON path such as
  /// "http.max_body_bytes" or "listen[1]" (empty when the error is about the whole document);
  /// `line`/`column` (1-based, 0 = unknown) locate JSON syntax errors.
  config_error(std::string source, std::string path, std::string reason, unsigned line = 0,
               unsigned column = 0)
      : std::runtime_error(compose(source, path, reason, line, column)),
        source_(std::move(source)),
        path_(std::move(path)),
        reason_(std::move(reason)),
        line_(line),
        column_(column) {}

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }
  unsigned line() const { return line_; }
  unsigned column() const { return column_; }

 private:
  static std::string compose(const std::string& source, const std::string& path,
                             const std::string& reason, unsigned line, unsigned column) {
    std::string text = source;
    if (line != 0) text += ":" + std::to_string(line) + ":" + std::to_string(column);
    text += ": ";
    if (!path.empty()) text += path + ": ";
    return text + reason;
  }

  std::string source_;
  std::string path_;
  std::string reason_;
  unsigned line_;
  unsigned column_;
};

}  // namespace echod::config
