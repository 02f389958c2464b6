// engine/json_depth: the nesting of JSON text measured without parsing it, against the depth of what nlohmann
// parses from the same text (walked recursively: these cases are shallow); brackets inside strings (escaped quotes
// too) and comments do not count; deep text is refused by name before a parser or an error message walks it.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/json_depth.h"

using namespace sgml;

namespace {

int parsed_depth(const nlohmann::json& j) {
  if (!j.is_structured()) return 0;
  int deepest = 0;
  for (const auto& child : j) deepest = std::max(deepest, parsed_depth(child));
  return 1 + deepest;
}

TEST(JsonDepth, MatchesTheParsedValue) {
  for (const char* text : {"1", "\"[[[\"", "[]", "{}", "[1, [2, [3]], {}]", R"({"a": {"b": [{"c": []}]}})",
                           R"({"a\"[": "]\\", "b": [["x]"]]})", R"(["{", "}", "[", [[]]])",
                           R"({"paths": [{"hex": "5b5b"}], "boxes": [[1, 2, 3, 4]]})"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(json_nesting_depth(text), parsed_depth(nlohmann::json::parse(text)));
  }
}

TEST(JsonDepth, CommentsDoNotCount) {
  const std::string text = "{\n  // [[[[ not nesting\n  \"lr\": 0.1, /* {{{{ */ \"k\": [1]\n}\n";
  EXPECT_EQ(json_nesting_depth(text), parsed_depth(nlohmann::json::parse(text, nullptr, true, true)));
}

TEST(JsonDepth, DeepTextIsRefusedByName) {
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(json_nesting_depth(deep), 100001);
  try {
    check_json_depth(deep, "config file 'x.json'");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("config file 'x.json' nests 100001 levels of arrays and objects; at most 32"),
              std::string::npos)
        << e.what();
  }
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_NO_THROW(check_json_depth(at_limit, "x"));
  EXPECT_THROW(check_json_depth("[" + at_limit + "]", "x"), Error);
  EXPECT_EQ(json_nesting_depth("[[[\"unterminated"), 3);  // malformed: measured as far as it goes
}

}  // namespace
