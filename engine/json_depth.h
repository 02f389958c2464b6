// A guard for JSON text read from files (config files, checkpoint metadata, safetensors headers, cache indexes):
// nlohmann parses deep nesting iteratively, but printing such a value (dump(), as error messages do) or walking it
// recurses once per level, and 100,000 levels overflow the stack. Our files nest a few levels; refuse the rest first.
#pragma once
#include <string>
#include <string_view>

namespace sgml {

constexpr int kMaxJsonDepth = 32;

// The deepest nesting of arrays and objects in `text`, not counting brackets inside strings or // and /* */ comments
// (which config files may hold). Malformed text is measured as far as it goes; the parser reports what is wrong.
int json_nesting_depth(std::string_view text);

// Throws an sgml::Error "WHAT nests N levels of arrays and objects; at most 32 are read" when `text` nests deeper
// than kMaxJsonDepth. `what` names the file (and field).
void check_json_depth(std::string_view text, const std::string& what);

}  // namespace sgml
