// File names as text. A POSIX file name is any bytes, but JSON (and so nlohmann::json::dump) holds only UTF-8:
// a dataset image named in Latin-1 (byte 0xff, say) made the JSON library throw. Two ways out, by purpose:
//   display  (messages, `sgml info --json`, search results): printable_utf8 keeps valid UTF-8 and writes every
//            other byte as the four characters \xHH; lossy in principle, always readable and always valid JSON.
//   storage  (the decoded-image cache index, which must give back the exact path): path_to_json / path_from_json
//            store a valid UTF-8 path as a JSON string and any other as {"hex": "<its bytes in hex>"}.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sgml {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), the same rule
// as nlohmann::json's.
bool is_valid_utf8(const std::string& text);

// `text` with every byte that is not part of a well-formed UTF-8 sequence written as \xHH.
std::string printable_utf8(const std::string& text);

// Exact, reversible JSON form of a path (see above).
nlohmann::json path_to_json(const std::string& path);
// The path back, or nullopt when `value` is neither a string nor {"hex": "<even number of hex digits>"}.
std::optional<std::string> path_from_json(const nlohmann::json& value);

}  // namespace sgml
