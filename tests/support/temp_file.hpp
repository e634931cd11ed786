// A file under /tmp for one test: created (mkstemps) with the given text and name suffix,
// removed when the object goes. And file_text(), what any file holds.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace echod::testing {

/// What the file at `path` holds ("" when it cannot be read).
inline std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class temp_file {
 public:
  explicit temp_file(std::string_view text = {}, std::string_view suffix = {}) {
    std::string name = "/tmp/echod-test-XXXXXX" + std::string(suffix);
    const int fd = mkstemps(name.data(), static_cast<int>(suffix.size()));
    if (fd >= 0) {
      for (std::size_t at = 0; at < text.size();) {
        const ssize_t n = ::write(fd, text.data() + at, text.size() - at);
        if (n <= 0) break;
        at += static_cast<std::size_t>(n);
      }
      ::close(fd);
    }
    path_ = std::move(name);
  }
  ~temp_file() { std::remove(path_.c_str()); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }
  /// Replaces what the file holds.
  void write(std::string_view text) const { std::ofstream(path_) << text; }
  /// What the file holds now.
  std::string text() const { return file_text(path_); }

 private:
  std::string path_;
};

}  // namespace echod::testing
