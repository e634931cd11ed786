// The config reader against hostile input: every limit gives a config_error that names the
// source (file or --set), the field where there is one, and the reason, and nothing else ever
// escapes. Files too large or endless (/dev/zero), FIFOs without a writer, nesting 70,000 deep,
// numbers beyond a double, huge keys and values in messages.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/json_reader.hpp"
#include "config/server_config.hpp"

namespace echod::config {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A fresh temporary directory, removed (with the files the test made in it) at the end.
class temp_dir {
 public:
  temp_dir() {
    char pattern[] = "/tmp/echod-hostile-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  ~temp_dir() {
    for (const auto& name : made_) {
      if (::unlink(name.c_str()) != 0) ::rmdir(name.c_str());
    }
    ::rmdir(dir_.c_str());
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string path(const std::string& name) {
    made_.push_back(dir_ + "/" + name);
    return made_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> made_;
};

// The what() of the config_error `f` throws; "no error" when it returns, and any other exception
// fails the test (it would have escaped the reader).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const config_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a config_error: " << e.what();
    return e.what();
  }
  return "no error";
}

std::string parse_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return error_of([&] { parse_server_config(text, "t.json", overrides); });
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

// ---- files ----

TEST(hostile_files, a_file_over_1mib_is_refused_naming_the_limit) {
  temp_dir dir;
  const std::string at = dir.path("big.json");
  {
    // Exactly the limit is read (and is a JSON error: all spaces); one byte more is not read.
    const int fd = ::open(at.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, max_document_bytes), 0);
    ::close(fd);
  }
  EXPECT_EQ(read_text_file(at).size(), max_document_bytes);
  ASSERT_EQ(::truncate(at.c_str(), max_document_bytes + 1), 0);
  EXPECT_EQ(error_of([&] { read_text_file(at); }),
            at + ": larger than the 1MiB limit for a config file");
  // 100 MB (sparse): refused from its size, without reading it.
  ASSERT_EQ(::truncate(at.c_str(), 100'000'000), 0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(error_of([&] { load_server_config(at); }),
            at + ": larger than the 1MiB limit for a config file");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(hostile_files, dev_zero_stops_at_the_limit) {
  EXPECT_EQ(error_of([] { load_server_config("/dev/zero"); }),
            "/dev/zero: larger than the 1MiB limit for a config file");
  // An empty device is read (and is not JSON).
  EXPECT_TRUE(
      error_of([] { load_server_config("/dev/null"); }).starts_with("/dev/null:1:1: invalid JSON"));
}

TEST(hostile_files, a_fifo_without_a_writer_is_refused_at_once) {
  temp_dir dir;
  const std::string at = dir.path("fifo.json");
  ASSERT_EQ(::mkfifo(at.c_str(), 0600), 0);
  auto result =
      std::async(std::launch::async, [&] { return error_of([&] { load_server_config(at); }); });
  if (result.wait_for(10s) != std::future_status::ready) {
    // Unblock the reader so the test can end, then fail.
    const int w = ::open(at.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w >= 0) ::close(w);
    FAIL() << "reading a FIFO with no writer blocked";
  }
  EXPECT_EQ(result.get(), at + ": is a FIFO, not a regular file (a config must be a file)");
}

// ---- nesting ----

TEST(hostile_nesting, deep_arrays_and_objects_are_refused_while_parsing) {
  // 70,000 deep overflowed the stack; the limit stops the parser at depth 65.
  for (const std::string& text :
       {nested_arrays(70'000), "{\"listen\": " + nested_arrays(70'000) + "}", [] {
          std::string s;
          for (int i = 0; i < 70'000; ++i) s += "{\"a\":";
          return s + "1" + std::string(70'000, '}');
        }()}) {
    const std::string what = parse_error(text);
    EXPECT_NE(what.find("nested deeper than 64 arrays and objects"), std::string::npos) << what;
    EXPECT_LT(what.size(), 1000U);
  }
  EXPECT_EQ(error_of([] { parse_json(nested_arrays(64), "t"); }), "no error");
  std::string at_64;
  for (int i = 0; i < 64; ++i) at_64 += "[0]";
  EXPECT_EQ(error_of([] { parse_json(nested_arrays(65), "t"); }),
            "t: " + at_64 + ": nested deeper than 64 arrays and objects");
}

TEST(hostile_nesting, messages_quote_any_value_briefly_without_recursion) {
  // Built by hand, past the parser's limit: describe() must neither recurse nor write it all.
  json deep = json::array();
  json* at = &deep;
  for (int i = 0; i < 100'000; ++i) {
    at->push_back(json::array());
    at = &(*at)[0];
  }
  EXPECT_EQ(describe(deep), "array " + std::string(57, '[') + "...");
  json wide = json::array();
  for (int i = 0; i < 1'000'000; ++i) wide.push_back(i);
  EXPECT_EQ(brief(wide), "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,...");
  EXPECT_EQ(brief(json{{"k", std::string(1 << 20, 'x')}}).size(), 60U);
  EXPECT_EQ(brief(json{{"a", 1}, {"b", {true, nullptr}}}), R"({"a":1,"b":[true,null]})");
}

// ---- numbers ----

TEST(hostile_numbers, numbers_beyond_a_double_name_their_field) {
  EXPECT_EQ(parse_error(R"({"idle_timeout": 1e999})"),
            "t.json: idle_timeout: number out of range: 1e999");
  EXPECT_EQ(parse_error(R"({"shutdown_timeout": -1e400})"),
            "t.json: shutdown_timeout: number out of range: -1e400");
  EXPECT_EQ(parse_error(R"({"cpu_affinity": [0, 1e999]})"),
            "t.json: cpu_affinity[1]: number out of range: 1e999");
  EXPECT_EQ(parse_error(R"({"http": {"max_body_bytes": 1e999}})"),
            "t.json: http.max_body_bytes: number out of range: 1e999");
  // A long one is quoted briefly.
  const std::string what = parse_error("{\"backlog\": 1" + std::string(5000, '0') + "e999}");
  EXPECT_TRUE(what.starts_with("t.json: backlog: number out of range: 1000")) << what;
  EXPECT_LT(what.size(), 120U) << what;
  // Large but finite: an ordinary range error.
  EXPECT_EQ(parse_error(R"({"idle_timeout": 1e300})"),
            "t.json: idle_timeout: must be between 0 and 31536000 seconds, got 1e+300");
}

// ---- --set ----

TEST(hostile_overrides, set_errors_name_set) {
  EXPECT_EQ(parse_error("{}", {"processes=1e999"}), "--set: processes: number out of range: 1e999");
  EXPECT_EQ(parse_error("{}", {"http.max_body_bytes=[1e999]"}),
            "--set: http.max_body_bytes[0]: number out of range: 1e999");
  EXPECT_EQ(parse_error("{}", {"listen=" + nested_arrays(70'000)}).substr(0, 21),
            "--set: listen[0][0][0");
  EXPECT_EQ(parse_error("{}", {R"(http={"a": 1, "a": 2})"}), "--set: http.a: duplicate key");
  // An override that turns a file's field into an object blames --set, not the file.
  const std::string made_object = parse_error(R"({"http": {}})", {"http.max_body_bytes.x=1"});
  EXPECT_TRUE(made_object.starts_with("--set: http.max_body_bytes: expected a size"))
      << made_object;
  EXPECT_TRUE(parse_error("{}", {"http.max_body_bytes.x=1"}).starts_with("--set: ")) << made_object;
  EXPECT_TRUE(parse_error("{}", {"a.b.c=1"}).starts_with("--set: a: unknown key"));
}

TEST(hostile_overrides, long_keys_and_values_are_quoted_briefly) {
  const std::string key(100'000, 'k');
  for (const std::string& what :
       {parse_error("{\"" + key + "\": 1}"), parse_error("{}", {key + "=1"}),
        parse_error("{}", {"processes=" + std::string(100'000, 'x')}),
        parse_error("{}", {std::string(100'000, 'x')}),
        parse_error("{}", {"http." + key + ".x=1"})}) {
    EXPECT_LT(what.size(), 500U) << what.substr(0, 500);  // the list of known keys, and a quote
  }
}

}  // namespace
}  // namespace echod::config
