// The generic JSON machinery on a small made-up schema: syntax errors with line:column,
// duplicate keys, overrides (parsing, string fallback, nested paths, blame on "--set"), and each
// typed read's messages. server_config_test.cpp covers echod's real fields.
#include "config/json_reader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace echod::config {
namespace {

using json = nlohmann::json;

struct sample {
  bool flag = false;
  std::string name = "x";
  std::string mode = "a";
  unsigned count = 1;
  unsigned workers = 1;
  std::uint64_t size = 1024;
  double timeout = 1;
  double grace = 1;
  std::uint64_t inner_size = 0;
};

sample read_sample(std::string_view text, const std::vector<std::string>& overrides = {}) {
  error_context errors("t.json");
  json root = parse_json(text, "t.json");
  apply_overrides(root, overrides, errors);
  sample s;
  object_reader r(root, "", errors);
  r.read_bool("flag", s.flag);
  r.read_string("name", s.name);
  r.read_enum("mode", s.mode, {"a", "b_c"});
  r.read_uint("count", s.count, 1, 1024);
  r.read_uint_or_auto("workers", s.workers, 1, 64);
  r.read_size("size", s.size, 512, 1 << 20);
  r.read_seconds("timeout", s.timeout, 0, 100, true);
  r.read_seconds("grace", s.grace, 0, 100, false);
  if (const json* inner = r.find("inner")) {
    object_reader i(*inner, r.path_of("inner"), errors);
    i.read_size("size", s.inner_size, 0, 4096);
    i.finish();
  }
  r.finish();
  return s;
}

// The what() of the config_error that reading `text` throws, or "" when it does not throw.
std::string error_of(std::string_view text, const std::vector<std::string>& overrides = {}) {
  try {
    read_sample(text, overrides);
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

TEST(parse_json, syntax_errors_name_line_and_column) {
  try {
    parse_json("{\n  \"a\": 1,\n    b: 2}", "config/echod.json");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.line(), 3U);
    EXPECT_EQ(e.column(), 5U);
    EXPECT_EQ(e.source(), "config/echod.json");
    EXPECT_EQ(e.path(), "");
    EXPECT_TRUE(
        std::string(e.what()).starts_with("config/echod.json:3:5: invalid JSON: syntax "
                                          "error while parsing object key"))
        << e.what();
  }
}

TEST(parse_json, errors_at_end_and_on_newlines_point_somewhere_real) {
  const auto location = [](std::string_view text) {
    try {
      parse_json(text, "f");
    } catch (const config_error& e) {
      return std::to_string(e.line()) + ":" + std::to_string(e.column());
    }
    return std::string("no error");
  };
  EXPECT_EQ(location(""), "1:1");
  EXPECT_EQ(location("[1,2"), "1:5");
  EXPECT_EQ(location("{\"a\":1,}"), "1:8");
  EXPECT_EQ(location("{\"a\": \"x\ny\"}"), "1:9");  // nlohmann itself would say "2:0"
  EXPECT_EQ(location("{}\n\n  x"), "3:3");
  EXPECT_EQ(location("{} // comments are not JSON"), "1:4");
}

TEST(parse_json, duplicate_keys_are_errors_with_their_path) {
  const auto what = [](std::string_view text) {
    try {
      parse_json(text, "f.json");
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(what(R"({"a": 1, "a": 2})"), "f.json: a: duplicate key");
  EXPECT_EQ(what(R"({"a": {"b": 1, "c": 2, "b": 3}})"), "f.json: a.b: duplicate key");
  EXPECT_EQ(what(R"({"l": [1, {"x": 1}, [2], {"y": 1, "y": 2}]})"),
            "f.json: l[3].y: duplicate key");
  EXPECT_EQ(what(R"([{}, {"k": [], "k": 0}])"), "f.json: [1].k: duplicate key");
  EXPECT_EQ(what(R"({"a": {"b": 1}, "c": {"b": 2}})"), "no error");  // same key, other objects
}

TEST(object_reader, absent_keys_keep_defaults) {
  const sample s = read_sample("{}");
  EXPECT_FALSE(s.flag);
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.count, 1U);
  EXPECT_EQ(s.size, 1024U);
}

TEST(object_reader, reads_every_kind) {
  const sample s = read_sample(R"({"flag": true, "name": "n", "mode": "b_c", "count": 1024,
      "workers": "auto", "size": "1MiB", "timeout": "1.5s", "grace": 0.25,
      "inner": {"size": 4096}})");
  EXPECT_TRUE(s.flag);
  EXPECT_EQ(s.name, "n");
  EXPECT_EQ(s.mode, "b_c");
  EXPECT_EQ(s.count, 1024U);
  EXPECT_EQ(s.workers, 0U);
  EXPECT_EQ(s.size, 1U << 20);
  EXPECT_DOUBLE_EQ(s.timeout, 1.5);
  EXPECT_DOUBLE_EQ(s.grace, 0.25);
  EXPECT_EQ(s.inner_size, 4096U);
  EXPECT_EQ(read_sample(R"({"size": 512})").size, 512U);
  EXPECT_EQ(read_sample(R"({"workers": 64})").workers, 64U);
  EXPECT_DOUBLE_EQ(read_sample(R"({"timeout": 0})").timeout, 0);
}

TEST(object_reader, unknown_keys_name_the_known_ones) {
  EXPECT_EQ(error_of(R"({"flagg": true})"),
            "t.json: flagg: unknown key (known: flag, name, mode, count, workers, size, timeout, "
            "grace, inner)");
  EXPECT_EQ(error_of(R"({"inner": {"sise": 1}})"), "t.json: inner.sise: unknown key (known: size)");
}

TEST(object_reader, wrong_types) {
  EXPECT_EQ(error_of(R"({"flag": "yes"})"),
            R"(t.json: flag: expected true or false, got string "yes")");
  EXPECT_EQ(error_of(R"({"flag": 1})"), "t.json: flag: expected true or false, got number 1");
  EXPECT_EQ(error_of(R"({"name": null})"), "t.json: name: expected a string, got null");
  EXPECT_EQ(error_of(R"({"mode": 3})"),
            "t.json: mode: expected a string (one of a, b_c), got number 3");
  EXPECT_EQ(error_of(R"({"count": "4"})"), R"(t.json: count: expected an integer, got string "4")");
  EXPECT_EQ(error_of(R"({"count": 4.0})"), "t.json: count: expected an integer, got number 4.0");
  EXPECT_EQ(error_of(R"({"count": 1e30})"), "t.json: count: expected an integer, got number 1e+30");
  EXPECT_EQ(error_of(R"({"workers": "four"})"),
            R"(t.json: workers: expected an integer or "auto", got string "four")");
  EXPECT_EQ(error_of(R"({"workers": [1]})"),
            R"(t.json: workers: expected an integer or "auto", got array [1])");
  EXPECT_EQ(
      error_of(R"({"size": true})"),
      R"(t.json: size: expected a size (an integer number of bytes or a string like "64KiB"), got boolean true)");
  EXPECT_EQ(
      error_of(R"({"size": 1.5})"),
      R"(t.json: size: expected a size (an integer number of bytes or a string like "64KiB"), got number 1.5)");
  EXPECT_EQ(
      error_of(R"({"timeout": {}})"),
      R"(t.json: timeout: expected a number of seconds or a duration string like "500ms", got object {})");
  EXPECT_EQ(error_of(R"({"inner": [1, 2]})"), "t.json: inner: expected an object, got array [1,2]");
  EXPECT_EQ(error_of("[]"), "t.json: expected a JSON object at the top level, got array []");
  EXPECT_EQ(error_of("7"), "t.json: expected a JSON object at the top level, got number 7");
}

TEST(object_reader, bad_strings_for_sizes_durations_and_enums) {
  EXPECT_EQ(error_of(R"({"mode": "c"})"), R"(t.json: mode: must be one of a, b_c, got "c")");
  EXPECT_EQ(
      error_of(R"({"size": "64KiBs"})"),
      R"(t.json: size: invalid size "64KiBs" (expected an integer number of bytes, or an integer with a unit: B, K/KiB, M/MiB, G/GiB))");
  EXPECT_EQ(
      error_of(R"({"timeout": "5"})"),
      R"(t.json: timeout: invalid duration "5" (expected a number of seconds, or a number with a unit: ns, us, ms, s, m, h, e.g. "500ms"))");
}

TEST(object_reader, ranges) {
  EXPECT_EQ(error_of(R"({"count": 0})"), "t.json: count: must be between 1 and 1024, got 0");
  EXPECT_EQ(error_of(R"({"count": 1025})"), "t.json: count: must be between 1 and 1024, got 1025");
  EXPECT_EQ(error_of(R"({"count": -1})"), "t.json: count: must be between 1 and 1024, got -1");
  EXPECT_EQ(error_of(R"({"count": 18446744073709551615})"),
            "t.json: count: must be between 1 and 1024, got 18446744073709551615");
  EXPECT_EQ(error_of(R"({"workers": 0})"), "t.json: workers: must be between 1 and 64, got 0");
  EXPECT_EQ(error_of(R"({"size": 511})"), "t.json: size: must be between 512B and 1MiB, got 511");
  EXPECT_EQ(error_of(R"({"size": "2MiB"})"),
            R"(t.json: size: must be between 512B and 1MiB, got "2MiB")");
  EXPECT_EQ(error_of(R"({"size": -4})"), "t.json: size: must be between 512B and 1MiB, got -4");
  EXPECT_EQ(error_of(R"({"inner": {"size": "8KiB"}})"),
            R"(t.json: inner.size: must be between 0B and 4KiB, got "8KiB")");
  EXPECT_EQ(error_of(R"({"timeout": -0.5})"),
            "t.json: timeout: must be between 0 and 100 seconds, got -0.5");
  EXPECT_EQ(error_of(R"({"timeout": "2m"})"),
            R"(t.json: timeout: must be between 0 and 100 seconds, got "2m")");
  EXPECT_EQ(error_of(R"({"grace": 0})"),
            "t.json: grace: must be greater than 0 and at most 100 seconds, got 0");
  EXPECT_EQ(error_of(R"({"grace": "0ms"})"),
            R"(t.json: grace: must be greater than 0 and at most 100 seconds, got "0ms")");
}

TEST(object_reader, long_values_are_shortened_in_messages) {
  const std::string long_name(200, 'z');
  const std::string what = error_of(R"({"mode": ")" + long_name + "\"}");
  EXPECT_LT(what.size(), 120U) << what;
  EXPECT_TRUE(what.ends_with("...")) << what;
}

TEST(overrides, values_parse_as_json_or_fall_back_to_strings) {
  const sample s = read_sample("{}", {"count=4", "flag=true", "name=plain text", "mode=b_c",
                                      "size=64KiB", "workers=auto", "timeout=2.5", "grace=500ms"});
  EXPECT_EQ(s.count, 4U);
  EXPECT_TRUE(s.flag);
  EXPECT_EQ(s.name, "plain text");
  EXPECT_EQ(s.mode, "b_c");
  EXPECT_EQ(s.size, 64U << 10);
  EXPECT_EQ(s.workers, 0U);
  EXPECT_DOUBLE_EQ(s.timeout, 2.5);
  EXPECT_DOUBLE_EQ(s.grace, 0.5);
  EXPECT_EQ(read_sample("{}", {R"(name="quoted")"}).name, "quoted");
  EXPECT_EQ(read_sample("{}", {"name="}).name, "");
  EXPECT_EQ(read_sample("{}", {"name=a=b"}).name, "a=b");                // split at the first '='
  EXPECT_EQ(read_sample("{}", {"name=[::1]:7007"}).name, "[::1]:7007");  // not JSON: a string
}

TEST(overrides, replace_file_values_in_order) {
  EXPECT_EQ(read_sample(R"({"count": 9})", {"count=10"}).count, 10U);
  EXPECT_EQ(read_sample("{}", {"count=10", "count=11"}).count, 11U);
}

TEST(overrides, nested_paths_create_or_update_objects) {
  EXPECT_EQ(read_sample("{}", {"inner.size=100"}).inner_size, 100U);
  EXPECT_EQ(read_sample(R"({"inner": {"size": 1}})", {"inner.size=2"}).inner_size, 2U);
  EXPECT_EQ(read_sample("{}", {R"(inner={"size": 3})"}).inner_size, 3U);
}

TEST(overrides, errors_in_overridden_values_blame_set) {
  EXPECT_EQ(error_of("{}", {"count=0"}), "--set: count: must be between 1 and 1024, got 0");
  EXPECT_EQ(error_of("{}", {"count=four"}),
            R"(--set: count: expected an integer, got string "four")");
  EXPECT_EQ(error_of("{}", {"inner.size=5000"}),
            "--set: inner.size: must be between 0B and 4KiB, got 5000");
  EXPECT_EQ(error_of("{}", {"inner.sise=1"}), "--set: inner.sise: unknown key (known: size)");
  EXPECT_EQ(error_of("{}", {R"(inner={"bad": 1})"}), "--set: inner.bad: unknown key (known: size)");
  EXPECT_EQ(error_of("{}", {"nope=1"}).substr(0, 28), "--set: nope: unknown key (kn");
  // Values the override did not touch still blame the file.
  EXPECT_EQ(error_of(R"({"count": 0})", {"inner.size=1"}),
            "t.json: count: must be between 1 and 1024, got 0");
  EXPECT_EQ(error_of(R"({"inner": {"size": 9999}})", {"count=2"}),
            "t.json: inner.size: must be between 0B and 4KiB, got 9999");
  // "count" overridden does not make "counter" an override.
  EXPECT_EQ(error_of(R"({"counter": 0})", {"count=2"}).substr(0, 24), "t.json: counter: unknown");
}

TEST(overrides, malformed_overrides) {
  EXPECT_EQ(error_of("{}", {"count"}),
            R"(--set: expected key=value (e.g. processes=4), got "count")");
  EXPECT_EQ(error_of("{}", {""}), R"(--set: expected key=value (e.g. processes=4), got "")");
  const std::string dotted =
      R"(--set: expected a dotted key such as http.max_body_bytes before '=', got )";
  EXPECT_EQ(error_of("{}", {"=4"}), dotted + "\"=4\"");
  EXPECT_EQ(error_of("{}", {"inner..size=4"}), dotted + "\"inner..size=4\"");
  EXPECT_EQ(error_of("{}", {".count=4"}), dotted + "\".count=4\"");
  EXPECT_EQ(error_of("{}", {"inner.=4"}), dotted + "\"inner.=4\"");
  EXPECT_EQ(error_of(R"({"name": "n"})", {"name.x=1"}),
            R"(--set: name.x: cannot set a member of name, which is string "n")");
  EXPECT_EQ(error_of(R"({"inner": null})", {"inner.size=1"}),
            "--set: inner.size: cannot set a member of inner, which is null");
  EXPECT_EQ(error_of("[1]", {"count=1"}),
            "t.json: expected a JSON object at the top level, got array [1]");
}

TEST(overrides, bad_utf8_in_a_fallback_string_is_reported_not_thrown_from_dump) {
  const std::string what = error_of("{}", {"mode=\xff\xfe"});
  EXPECT_TRUE(what.starts_with("--set: mode: must be one of a, b_c, got \"")) << what;
}

TEST(error_context, source_of_matches_whole_path_segments) {
  error_context errors("f");
  errors.add_override("a.b");
  errors.add_override("l");
  EXPECT_EQ(errors.source_of("a.b"), "--set");
  EXPECT_EQ(errors.source_of("a.b.c"), "--set");
  EXPECT_EQ(errors.source_of("l[2]"), "--set");
  EXPECT_EQ(errors.source_of("a"), "f");
  EXPECT_EQ(errors.source_of("a.bc"), "f");
  EXPECT_EQ(errors.source_of("lx"), "f");
}

TEST(read_text_file, missing_files_and_directories) {
  try {
    read_text_file("/nonexistent/echod.json");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/echod.json: cannot read: No such file or directory");
  }
  try {
    read_text_file("/");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "/: cannot read: Is a directory");
  }
}

}  // namespace
}  // namespace echod::config
