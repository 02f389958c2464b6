#include "engine/json_depth.h"

#include <algorithm>

#include "engine/check.h"

namespace sgml {

int json_nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {  // a string: skip to its closing quote, past escaped characters
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      i = std::min(text.find('\n', i), text.size());
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

void check_json_depth(std::string_view text, const std::string& what) {
  const int depth = json_nesting_depth(text);
  if (depth > kMaxJsonDepth)
    SGML_FAIL(what, " nests ", depth, " levels of arrays and objects; at most ", kMaxJsonDepth, " are read");
}

}  // namespace sgml
