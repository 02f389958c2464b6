// Command-line options for the sgml commands: every option is declared with its default and help text, so the
// usage screen shows every default, unknown options are errors that list the valid ones, and a JSON config file
// (--config FILE, where a command allows it) sets the same options by name.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace sgml {

class Options {
 public:
  Options(std::string command, std::string usage_line, std::string summary);

  // Declares an option taking a value (`--name VALUE`) or a flag (`--name`, default false).
  void add(const std::string& name, const std::string& default_value, const std::string& help);
  void add_flag(const std::string& name, const std::string& help);
  // Allows --config FILE.json whose keys are option names (without dashes, '-' or '_' alike).
  void allow_config_file();

  // Parses argv[first..]. Returns false when --help was asked for (the usage was printed).
  // Positional arguments are collected in positional(). Throws sgml::Error on a bad option.
  bool parse(int argc, char** argv, int first = 1);

  std::string get(const std::string& name) const;
  int get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  bool get_flag(const std::string& name) const;
  bool was_set(const std::string& name) const;  // given on the command line or in the config file
  void set(const std::string& name, const std::string& value);
  const std::vector<std::string>& positional() const { return positional_; }

  // Sets, from a JSON file of option names and values, every option not given on the command line or in --config
  // (used for the shipped per-dataset defaults in configs/).
  void apply_defaults_file(const std::string& path);

  std::string usage() const;
  // The resolved values, one per line (printed at the start of long runs), and as JSON.
  std::string resolved() const;
  std::string resolved_json() const;

 private:
  struct Spec {
    std::string default_value;
    std::string help;
    bool is_flag = false;
  };
  std::string command_, usage_line_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> set_;
  std::vector<std::string> positional_;
  bool config_allowed_ = false;

  const Spec& spec(const std::string& name) const;
  void load_config(const std::string& path, bool only_unset);
};

}  // namespace sgml
