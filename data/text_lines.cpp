#include "data/text_lines.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/check.h"

namespace sgml {

TextFile::TextFile(const std::string& path) : path_(path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open '", path, "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) SGML_FAIL("cannot read '", path, "'");
  text_ = buffer.str();
  // Views are taken after the text is final (no reallocation afterwards). A UTF-8 byte-order mark, which some
  // Windows editors write first, is not part of line 1 (its first token would read "\xEF\xBB\xBF1", shown as "1").
  size_t start = text_.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  while (start < text_.size()) {
    size_t end = text_.find('\n', start);
    if (end == std::string::npos) end = text_.size();
    size_t stop = end;
    if (stop > start && text_[stop - 1] == '\r') --stop;  // files written on Windows
    lines_.emplace_back(text_.data() + start, stop - start);
    start = end + 1;
  }
}

std::vector<std::string_view> split_tokens(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

bool try_parse_integer(std::string_view token, long long* out) {
  if (token.empty() || token.size() > 30) return false;
  const std::string s(token);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

long long parse_integer(std::string_view token, const std::string& file, int line, const char* what) {
  long long v = 0;
  if (!try_parse_integer(token, &v))
    SGML_FAIL("'", file, "' line ", line, ": ", what, " '", token, "' is not an integer");
  return v;
}

double parse_number(std::string_view token, const std::string& file, int line, const char* what) {
  const std::string s(token);
  char* end = nullptr;
  errno = 0;
  const double v = s.empty() || s.size() > 60 ? NAN : std::strtod(s.c_str(), &end);
  if (s.empty() || s.size() > 60 || errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v))
    SGML_FAIL("'", file, "' line ", line, ": ", what, " '", token, "' is not a number");
  return v;
}

std::string find_dataset_file(const std::string& root, const std::vector<std::string>& candidates,
                              const std::string& hint) {
  namespace fs = std::filesystem;
  std::string tried;
  for (const auto& c : candidates) {
    const fs::path p = (fs::path(root) / c).lexically_normal();
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    tried += "\n  " + p.string();
  }
  // A --data one level too high (the folder the archive was extracted into): name the subfolder that holds it.
  std::string below;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end && below.empty(); it.increment(ec))
    for (const auto& c : candidates)
      if (std::error_code e; it->is_directory(e) && fs::is_regular_file(it->path() / c, e)) {
        below = str_cat("\n'", (it->path() / c).lexically_normal().string(), "' is there: give --data ",
                        it->path().lexically_normal().string(), "?");
        break;
      }
  SGML_FAIL("missing file: ", fs::path(candidates.front()).filename().string(), " not found; looked for:", tried, "\n(",
            hint, ")", below);
}

}  // namespace sgml
