// How JSON values read in config error messages: clipped, compact and typed ("string \"four\"").
// See json_reader.hpp for brief() and describe(), json_text.hpp for the rest.
#include "config/json_text.hpp"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/json_reader.hpp"

namespace echod::config {

using json = nlohmann::json;

namespace json_text {

std::string clip(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string top_level_reason(const json& root) {
  return "expected a JSON object at the top level, got " + describe(root);
}

}  // namespace json_text

std::string brief(const json& value) {
  // Writes compact JSON with an explicit stack instead of dump(), which recurses and writes the
  // whole value: either could be unbounded. Stops a few bytes past the limit, then clips.
  const auto scalar = [](const json& v) {
    // replace: an override's fallback string may hold any bytes, and dump() throws on bad UTF-8.
    constexpr auto replace = json::error_handler_t::replace;
    if (!v.is_string()) return v.dump(-1, ' ', false, replace);
    const auto& s = v.get_ref<const std::string&>();
    return json(s.substr(0, json_text::message_value_bytes + 1)).dump(-1, ' ', false, replace);
  };
  struct level {
    const json* container;
    json::const_iterator next;
  };
  std::vector<level> open;
  std::string out;
  const json* v = &value;
  while (out.size() <= json_text::message_value_bytes) {
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
  return json_text::clip(std::move(out));
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

}  // namespace echod::config
