#include "tools/commands/options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/check.h"
#include "engine/json_depth.h"

namespace sgml {

namespace {
// Levenshtein distance, for suggesting the option a typo meant.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string normalise(std::string name) {
  for (char& c : name)
    if (c == '_') c = '-';
  return name;
}

// The words a flag's value may be (after '=', after the flag, or in a config file); nullopt for any other text.
std::optional<bool> flag_word(const std::string& v) {
  if (v == "true" || v == "on" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "off" || v == "no" || v == "0") return false;
  return std::nullopt;
}

// The line of each key of the top-level object in JSON `text` that nlohmann already parsed (so well formed, with
// // and /* */ comments allowed). A key is recorded as written between its quotes.
std::map<std::string, std::vector<int>> top_level_key_lines(const std::string& text) {
  std::map<std::string, std::vector<int>> lines;
  int line = 1, depth = 0;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i + 1 < n && text[i + 1] != '\n') ++i;
    } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      for (i += 2; i + 1 < n && !(text[i] == '*' && text[i + 1] == '/'); ++i)
        if (text[i] == '\n') ++line;
      ++i;  // onto the closing '/'
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == '"') {
      const size_t start = ++i;
      while (i < n && text[i] != '"') i += text[i] == '\\' ? 2 : 1;  // a JSON string holds no raw newline
      size_t next = i + 1;
      while (next < n && std::isspace(static_cast<unsigned char>(text[next]))) ++next;
      if (depth == 1 && next < n && text[next] == ':') lines[text.substr(start, i - start)].push_back(line);
    }
  }
  return lines;
}

// A number as written by hand: an optional sign and digits, for a real also a point and an exponent; nothing around
// it. strtoll and strtod alone also take leading spaces, and strtod hexadecimal ("0x10" is 16) and "0x1p-10".
bool decimal_text(const std::string& v, bool real) {
  const auto digits_from = [&](size_t& i) {
    const size_t start = i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    return i - start;
  };
  size_t i = 0;
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
  size_t digits = digits_from(i);
  if (real && i < v.size() && v[i] == '.') digits += digits_from(++i);
  if (digits == 0) return false;
  if (real && i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    if (++i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (digits_from(i) == 0) return false;
  }
  return i == v.size();
}

// "config file 'F', line L" (without the line when it is not known).
std::string origin_text(const std::string& path, int line) {
  return "config file '" + path + "'" + (line ? ", line " + std::to_string(line) : "");
}

std::string flag_usage(const std::string& name, bool auto_allowed) {
  return "--" + name + " is a flag: give it alone (true) or followed by true or false (also on/off, yes/no, 1/0" +
         (auto_allowed ? "; or auto, as when not given)" : ")");
}
}  // namespace

Options::Options(std::string command, std::string usage_line, std::string summary)
    : command_(std::move(command)), usage_line_(std::move(usage_line)), summary_(std::move(summary)) {}

void Options::add(const std::string& name, const std::string& default_value, const std::string& help,
                  const std::string& shown_default) {
  order_.push_back(name);
  specs_[name] = {default_value, help, false, shown_default, false, ""};
  values_[name] = default_value;
}

void Options::add_required(const std::string& name, const std::string& value_name, const std::string& help) {
  add(name, "", help);
  specs_[name].required_as = value_name;
}

std::string Options::get_required(const std::string& name) const {
  const Spec& s = spec(name);
  SGML_CHECK(!s.required_as.empty(), "option --", name, " is not declared with add_required");
  const std::string value = get(name);
  if (value.empty()) SGML_FAIL("--", name, " ", s.required_as, " is required (", s.help, ")");
  return value;
}

void Options::add_flag(const std::string& name, const std::string& help, bool auto_allowed) {
  order_.push_back(name);
  const std::string default_value = auto_allowed ? "auto" : "false";
  specs_[name] = {default_value, help, true, "", auto_allowed, ""};
  values_[name] = default_value;
}

bool Options::flag_value(const Spec& s, const std::string& v) const {
  return flag_word(v).has_value() || (s.auto_allowed && v == "auto");
}

void Options::add_alias(const std::string& alias, const std::string& target) {
  spec(target);
  aliases_[alias] = target;
}

std::string Options::canonical(const std::string& name) const {
  const std::string n = normalise(name);
  auto it = aliases_.find(n);
  return it == aliases_.end() ? n : it->second;
}

void Options::allow_config_file() {
  config_allowed_ = true;
  add("config", "", "JSON file of options (keys are option names); command-line options override it");
}

std::string Options::did_you_mean(const std::string& name) const {
  // The options a typo of `name` could be: one or two edits away (one for short names), or `name` cut short.
  std::vector<std::string> near;
  const size_t allowed = name.size() <= 4 ? 1 : 2;
  for (const auto& n : order_)
    if (edit_distance(name, n) <= allowed || (name.size() >= 3 && n.rfind(name, 0) == 0)) near.push_back("--" + n);
  if (near.empty()) return "";
  std::string s = " (did you mean " + near[0];
  for (size_t i = 1; i < near.size(); ++i) s += (i + 1 == near.size() ? " or " : ", ") + near[i];
  return s + "?)";
}

const Options::Spec& Options::spec(const std::string& name) const {
  auto it = specs_.find(name);
  if (it == specs_.end())
    SGML_FAIL("unknown option '--", name, "'", did_you_mean(name), "; sgml ", command_, " --help lists them all");
  return it->second;
}

bool Options::parse(int argc, char** argv, int first) {
  std::map<std::string, std::string> given;
  bool help = false;  // the rest is read first: the dataset (`sgml train cub --help`) decides the defaults shown
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    name = canonical(name);
    const Spec& s = spec(name);
    if (s.is_flag) {
      if (inline_value && !flag_value(s, value)) SGML_FAIL(flag_usage(name, s.auto_allowed), ", got '", value, "'");
      if (!inline_value && i + 1 < argc && flag_value(s, argv[i + 1])) {
        value = argv[++i];
      } else if (!inline_value) {
        value = "true";
        // The next argument is positional or another option; remembered for flag_value_hint.
        if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0)
          flag_before_positional_[positional_.size()] = name;
      }
    } else if (!inline_value) {
      if (i + 1 >= argc) SGML_FAIL("option --", name, " needs a value (", s.help, ")");
      value = argv[++i];
      // "--out --resume": the value is missing, not "--resume" (write --out=--x for a value that starts so).
      if (value.rfind("--", 0) == 0 && value.size() > 2)
        SGML_FAIL("option --", name, " needs a value (", s.help, "), got the option ", value);
    }
    if (const auto before = given.find(name); before != given.end() && before->second != value)
      std::fprintf(stderr, "note: --%s is given twice (%s, then %s): the last is used\n", name.c_str(),
                   before->second.c_str(), value.c_str());
    given[name] = value;
  }
  if (help) {
    if (help_hook_) help_hook_(*this, given);
    std::fputs(usage().c_str(), stdout);
    return false;
  }
  if (config_allowed_ && given.count("config") && !given["config"].empty()) load_config(given["config"], false);
  for (const auto& [name, value] : given) {
    values_[name] = value;
    set_[name] = true;
    source_.erase(name);
  }
  return true;
}

void Options::apply_defaults_file(const std::string& path, const std::string& shown_as) {
  load_config(path, true, shown_as);
}

void Options::load_config(const std::string& path, bool only_unset, const std::string& shown_as) {
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open config file '", path, "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check_json_depth(text, "config file '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const std::exception& e) {
    SGML_FAIL("config file '", path, "' is not valid JSON: ", e.what());  // nlohmann's message gives line and column
  }
  if (!j.is_object()) SGML_FAIL("config file '", path, "' must hold one JSON object of option names and values");
  const std::map<std::string, std::vector<int>> key_lines = top_level_key_lines(text);
  // A run's config.json (it names its dataset) as --config: its settings, not where that run's files went nor
  // whether it resumed (a new run would write into the old one's folder).
  const bool run_config = !only_unset && j.contains("dataset");
  const std::set<std::string> run_files = {"out", "resume", "metrics", "save"};
  std::map<std::string, std::string> key_of;  // option name -> the file's key ("frozen-bn", "frozen_bn")
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key().rfind("_", 0) == 0) continue;  // "_comment" keys document a config file
    const auto line = key_lines.find(it.key());
    const Origin origin{path, line == key_lines.end() ? 0 : line->second.back(), shown_as.empty() ? path : shown_as};
    const std::string where = origin_text(path, origin.line);
    const std::string name = canonical(it.key());
    // A key given twice: JSON keeps the last, which the writer may not have meant (as on the command line, where
    // a repeated option gets a note; a file is edited at leisure, so here it is an error).
    if (line != key_lines.end() && line->second.size() > 1)
      SGML_FAIL(where, ": key \"", it.key(), "\" is given twice (also on line ", line->second.front(), ")");
    if (const auto [other, added] = key_of.emplace(name, it.key()); !added)
      SGML_FAIL(where, ": key \"", it.key(), "\" names the option of key \"", other->second, "\" again");
    if (run_config && run_files.count(name)) {
      // Said once it matters: an edited "out" would otherwise be ignored without a word.
      const bool set = it.value().is_string() ? !it.value().get<std::string>().empty() : it.value() == true;
      if (set && !given_on_command_line(name))
        std::fprintf(stderr,
                     "note: %s: key \"%s\" is not used: a run's config.json as --config gives its settings, "
                     "not where its files went nor whether it resumed (give --%s on the command line)\n",
                     where.c_str(), it.key().c_str(), name.c_str());
      continue;
    }
    if (name == "dataset" && !specs_.count(name) && it.value().is_string()) {
      config_dataset_ = ConfigDataset{it.value().get<std::string>(), where};  // the command checks it
      continue;
    }
    if (!specs_.count(name) || name == "config") {
      std::string valid;
      for (const auto& n : order_)
        if (n != "config") valid += " " + n;
      const std::string why = name == "config" ? "a config file cannot name another one"
                                               : "sgml " + command_ + " has no option --" + name + did_you_mean(name);
      SGML_FAIL(where, ": unknown key \"", it.key(), "\" (", why, "; valid keys:", valid, ")");
    }
    if (only_unset && was_set(name)) continue;
    const auto& v = it.value();
    // Runs stored such a flag as a bool before it had auto, where false meant "not given" (e.g. --crop-boxes on cub,
    // cropped all the same); now false says no. Which one a file means cannot be known, so it must say in words.
    if (specs_.at(name).auto_allowed && v.is_boolean() && !v.get<bool>())
      SGML_FAIL(where, ": \"", it.key(), "\": false is ambiguous (runs before \"auto\" existed wrote "
                "false for \"not given\"): write \"auto\" for the dataset's default or \"false\" to say no");
    if (!v.is_string() && !v.is_boolean() && !v.is_number())
      SGML_FAIL("--", name, " (set in ", where, ") must be a string, a number or true/false, got ", v.dump());
    if (specs_.at(name).is_flag && v.is_number())
      SGML_FAIL("--", name, " (set in ", where, ") is a flag: write true or false, got ", v.dump());
    values_[name] = v.is_string()    ? v.get<std::string>()
                    : v.is_boolean() ? (v.get<bool>() ? "true" : "false")
                                     : v.dump();
    source_[name] = origin;
    if (!only_unset) set_[name] = true;
  }
}

std::string Options::get(const std::string& name) const {
  spec(name);
  return values_.at(name);
}

std::string Options::describe(const std::string& name) const {
  auto it = source_.find(name);
  if (it == source_.end()) return "--" + name;
  return "--" + name + " (set in " + origin_text(it->second.path, it->second.line) + ")";
}

std::string Options::config_origins(const std::string& message) const {
  const auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; };
  std::string list;
  for (const auto& [name, origin] : source_) {
    if (message.find(describe(name)) != std::string::npos) continue;  // the message says already
    const std::string option = "--" + name;
    bool named = false;
    for (size_t at = message.find(option); at != std::string::npos && !named; at = message.find(option, at + 1))
      named = (at == 0 || !name_char(message[at - 1])) &&
              (at + option.size() == message.size() || !name_char(message[at + option.size()]));
    if (named) list += (list.empty() ? "" : "; ") + option + ": " + origin_text(origin.path, origin.line);
  }
  return list.empty() ? "" : " (" + list + ")";
}

long long Options::parse_integer(const std::string& name) const {
  const std::string v = get(name);
  // strtoll rather than stoi + cast: out-of-range values are reported, never wrapped (4294967360 must not become 64).
  errno = 0;
  char* end = nullptr;
  const long long x = v.empty() ? 0 : std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || end != v.c_str() + v.size() || !decimal_text(v, false))
    SGML_FAIL(describe(name), " expects an integer, got '", v, "'");
  if (errno == ERANGE) SGML_FAIL(describe(name), " is out of range, got '", v, "'");
  return x;
}

int Options::get_int(const std::string& name, IntRange range) const {
  const long long x = parse_integer(name);
  check_int_range(x, range, describe(name));  // every IntRange lies within int
  return static_cast<int>(x);
}

double Options::get_double(const std::string& name, RealRange range) const {
  const std::string v = get(name);
  char* end = nullptr;
  const double x = v.empty() ? 0.0 : std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size()) SGML_FAIL(describe(name), " expects a number, got '", v, "'");
  // nan and inf parse as numbers but poison training (a NaN model is saved without a word).
  if (!std::isfinite(x))
    SGML_FAIL(describe(name), " expects a finite number, got '", v, "'");
  if (!decimal_text(v, true)) SGML_FAIL(describe(name), " expects a decimal number, got '", v, "'");
  check_real_range(x, range, describe(name));
  return x;
}

int Options::get_image_size(const std::string& name, bool zero_means_auto) const {
  const long long size = parse_integer(name);
  if (zero_means_auto && size == 0) return 0;
  check_image_size(size, describe(name));
  return static_cast<int>(size);
}

bool Options::get_flag(const std::string& name) const {
  const std::string v = get(name);
  if (v.empty()) return false;
  if (const std::optional<bool> b = flag_word(v)) return *b;
  SGML_FAIL(describe(name), " is a flag: expected true or false, got '", v, "'");
}

bool Options::get_on_off(const std::string& name) const {
  const std::string v = get(name);
  if (const std::optional<bool> b = flag_word(v)) return *b;
  SGML_FAIL(describe(name), " expects on or off, got '", v, "'");
}

std::optional<bool> Options::get_flag_or_auto(const std::string& name) const {
  const std::string v = get(name);
  if (v.empty() || v == "auto") return std::nullopt;
  if (const std::optional<bool> b = flag_word(v)) return *b;
  SGML_FAIL(describe(name), " is a flag: expected true, false or auto, got '", v, "'");
}

std::string Options::flag_value_hint(size_t index) const {
  auto it = flag_before_positional_.find(index);
  if (it == flag_before_positional_.end()) return "";
  return str_cat("'", positional_.at(index), "' after --", it->second, ": ",
                 flag_usage(it->second, spec(it->second).auto_allowed));
}

bool Options::was_set(const std::string& name) const {
  auto it = set_.find(name);
  return it != set_.end() && it->second;
}

bool Options::given_on_command_line(const std::string& name) const { return was_set(name) && !source_.count(name); }

void Options::set(const std::string& name, const std::string& value) {
  spec(name);
  values_[name] = value;
}

std::string Options::usage() const {
  std::ostringstream os;
  os << "usage: sgml " << command_ << " " << usage_line_ << "\n\n" << summary_ << "\n\noptions:\n";
  for (const auto& name : order_) {
    const Spec& s = specs_.at(name);
    std::string left = "  --" + name + (s.is_flag ? "" : " " + (s.required_as.empty() ? "VALUE" : s.required_as));
    if (left.size() < 28) left.resize(28, ' ');
    os << left << " " << s.help;
    const auto from_file = source_.find(name);  // a defaults file's value (on --help: only a hook sets one)
    if (!s.required_as.empty() && from_file == source_.end())
      os << " (required)";
    else if (from_file != source_.end())
      os << " (default: " << values_.at(name) << ", from " << from_file->second.shown_as << ")";
    else if (!s.is_flag || s.auto_allowed)
      os << " (default: "
         << (!s.shown_default.empty()  ? s.shown_default
             : s.default_value.empty() ? "none"
                                       : s.default_value)
         << ")";
    os << "\n";
  }
  for (const auto& [alias, target] : aliases_) {
    std::string left = "  --" + alias + " VALUE";
    if (left.size() < 28) left.resize(28, ' ');
    os << left << " another name for --" << target << "\n";
  }
  os << "  --help                       this screen\n";
  os << "\nA flag (an option without VALUE) alone means true; followed by false (or off, no) it says no.\n";
  return os.str();
}

std::string Options::resolved() const {
  std::ostringstream os;
  for (const auto& name : order_) os << "  " << name << " = " << values_.at(name) << "\n";
  return os.str();
}

}  // namespace sgml
