// What the JSON config code shares between its .cpp files and nothing else: how a value is cut
// to fit in a message, and the one reason for a document that is not an object. Private to
// config/json_*.cpp; the interface is config/json_reader.hpp.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace echod::config::json_text {

/// How long a quoted value, key or number may get in a message before it is cut with "...".
inline constexpr std::size_t message_value_bytes = 60;

/// `text` cut to at most `limit` bytes, ending in "..." when cut, never inside a UTF-8 sequence.
std::string clip(std::string text, std::size_t limit = message_value_bytes);

/// "expected a JSON object at the top level, got ..." for a document or --set root.
std::string top_level_reason(const nlohmann::json& root);

}  // namespace echod::config::json_text
