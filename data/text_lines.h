// Reading the datasets' annotation files and our list files: whitespace-separated tokens per line (runs of spaces and
// tabs alike, a trailing '\r' and a leading UTF-8 byte-order mark dropped), with the 1-based line number kept so
// that every error can name the file and the line.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace sgml {

// One whole text file in memory; the lines are views into it.
class TextFile {
 public:
  // Throws sgml::Error naming `path` when it cannot be read.
  explicit TextFile(const std::string& path);

  const std::string& path() const { return path_; }
  int num_lines() const { return int(lines_.size()); }
  std::string_view line(int number) const { return lines_[size_t(number - 1)]; }  // 1-based

 private:
  std::string path_;
  std::string text_;
  std::vector<std::string_view> lines_;
};

// Splits on runs of spaces/tabs; empty for a blank line.
std::vector<std::string_view> split_tokens(std::string_view line);
bool is_blank(std::string_view line);

// Parse one token or throw sgml::Error "'FILE' line N: WHAT 'TOKEN' is not ...".
long long parse_integer(std::string_view token, const std::string& file, int line, const char* what);
double parse_number(std::string_view token, const std::string& file, int line, const char* what);
// True (and the value in *out) when the whole token is a decimal integer.
bool try_parse_integer(std::string_view token, long long* out);

// The first of root/candidate that exists; else sgml::Error listing every path tried, with `hint` (the layout).
std::string find_dataset_file(const std::string& root, const std::vector<std::string>& candidates,
                              const std::string& hint);

}  // namespace sgml
