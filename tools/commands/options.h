// Command-line options for the sgml commands: every option is declared with its default and help text, so the
// usage screen shows every default, unknown options are errors that name the options near them, and a JSON config
// file (--config FILE, where a command allows it) sets the same options by name.
#pragma once
#include <climits>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "training/option_limits.h"

namespace sgml {

class Options {
 public:
  Options(std::string command, std::string usage_line, std::string summary);

  // Declares an option taking a value (`--name VALUE`) or a flag (`--name`, default false). `shown_default`, when
  // given, is what --help says the default is (for an empty default that means something, e.g. a folder).
  // A flag may also be given a value, so that a user can say either way (`--crop-boxes false` against a checkpoint
  // that crops): `--name=WORD`, or `--name WORD` when WORD is one of true/false, on/off, yes/no, 1/0 (any other next
  // argument stays positional: `--crop-boxes cars` still means the dataset cars).
  void add(const std::string& name, const std::string& default_value, const std::string& help,
           const std::string& shown_default = "");
  // Declares an option the command cannot run without (no default): the usage says "(required)", and
  // get_required names it with `value_name` ("--checkpoint FILE is required (HELP)") when it is missing.
  void add_required(const std::string& name, const std::string& value_name, const std::string& help);
  // With `auto_allowed` the flag is three-valued: not given (or `--name auto`) is auto, which the command resolves
  // (get_flag_or_auto); a --config file must then say "auto" or "false" in words, a JSON false being ambiguous.
  void add_flag(const std::string& name, const std::string& help, bool auto_allowed = false);
  // `--alias` is another name of the option `target` (e.g. embed's historical --weights for --checkpoint).
  void add_alias(const std::string& alias, const std::string& target);
  // Allows --config FILE.json whose keys are option names (without dashes, '-' or '_' alike).
  void allow_config_file();

  // Called on --help before the usage is printed, with the positional arguments read and the options given (name
  // -> value, not yet applied): `sgml train DATASET --help` applies that run's defaults files (apply_defaults_file),
  // so that the usage shows the defaults the run would have.
  using HelpHook = std::function<void(Options&, const std::map<std::string, std::string>& given)>;
  void on_help(HelpHook hook) { help_hook_ = std::move(hook); }

  // Parses argv[first..]. Returns false when --help was asked for (the usage was printed).
  // Positional arguments are collected in positional(). Throws sgml::Error on a bad option.
  bool parse(int argc, char** argv, int first = 1);

  std::string get(const std::string& name) const;
  // The value of an option declared with add_required; an error when it was not given (or given empty).
  std::string get_required(const std::string& name) const;
  // Numbers are checked here, so that no command sees a wrapped or non-finite value: an integer must be a whole
  // number within int (then within `range`), a real must be finite (then within `range`). Errors name the option
  // and, when it came from a file, the file.
  int get_int(const std::string& name, IntRange range = {INT_MIN, INT_MAX}) const;
  double get_double(const std::string& name, RealRange range = limits::kAnyFloat) const;
  // --image-size, checked by the one rule every command shares (check_image_size); with zero_means_auto, 0 is
  // accepted and means the command's default (eval/search: the checkpoint's size).
  int get_image_size(const std::string& name, bool zero_means_auto = false) const;
  bool get_flag(const std::string& name) const;
  // An option with a value that is on or off (--augment on): the flags' words, said as on or off in errors.
  bool get_on_off(const std::string& name) const;
  // A flag declared with auto_allowed: nullopt for auto, else true or false.
  std::optional<bool> get_flag_or_auto(const std::string& name) const;
  // Replaces a value by what it resolved to (e.g. --image-size 0 by the checkpoint's size) for resolved().
  void set(const std::string& name, const std::string& value);
  const std::vector<std::string>& positional() const { return positional_; }
  // A run's config.json names its dataset ("dataset": "cub"), which the command line gives as its argument: a
  // --config file may hold that key (it is not an option); this is its value and where ("config file 'F', line L"),
  // for the command to check against its argument. nullopt when the file has none.
  struct ConfigDataset {
    std::string value, where;
  };
  const std::optional<ConfigDataset>& config_dataset() const { return config_dataset_; }
  // "--name", and where a config file set it: "--name (set in config file 'F', line L)". For every error about the
  // value of one option.
  std::string describe(const std::string& name) const;
  // Where the options that `message` names ("--name") were set by a config file, as " (--a: config file 'F', line
  // L; ...)"; empty when none was, or when the message already says. For errors about several options at once.
  std::string config_origins(const std::string& message) const;
  // Given on the command line or in the --config file (not a default, nor a value of apply_defaults_file).
  bool was_set(const std::string& name) const;
  // Given on the command line itself (not in --config, nor a default).
  bool given_on_command_line(const std::string& name) const;
  // When positional argument `index` came right after a flag (`--crop-boxes maybe`), a message saying that the flag
  // takes only true or false; empty otherwise. For commands that got more positional arguments than they take.
  std::string flag_value_hint(size_t index) const;

  // Sets, from a JSON file of option names and values, every option not given on the command line or in --config
  // (used for the shipped per-dataset defaults in configs/). The usage names the file `shown_as` (default: path)
  // beside each default it set.
  void apply_defaults_file(const std::string& path, const std::string& shown_as = "");

  std::string usage() const;
  // The resolved values, "  name = value", one per line (every command prints them at its start).
  std::string resolved() const;

 private:
  struct Spec {
    std::string default_value;
    std::string help;
    bool is_flag = false;
    std::string shown_default;
    bool auto_allowed = false;  // a three-valued flag: auto | true | false
    std::string required_as;    // add_required's value name ("FILE"); empty for an option with a default
  };
  std::string command_, usage_line_, summary_;
  std::vector<std::string> order_;
  std::map<std::string, Spec> specs_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> set_;
  struct Origin {
    std::string path;
    int line = 0;  // 0: not known (a key written with escapes, or a comment between key and ':')
    std::string shown_as;  // a defaults file's name in the usage (configs/cub.json)
  };
  std::map<std::string, Origin> source_;  // the file a value came from; absent: command line or default
  std::map<std::string, std::string> aliases_;  // alias -> option
  std::vector<std::string> positional_;
  std::map<size_t, std::string> flag_before_positional_;  // positional index -> the flag right before it
  bool config_allowed_ = false;
  std::optional<ConfigDataset> config_dataset_;
  HelpHook help_hook_;

  // " (did you mean --lr?)" for a mistyped name: the options near it; "" when none is.
  std::string did_you_mean(const std::string& name) const;
  const Spec& spec(const std::string& name) const;
  bool flag_value(const Spec& s, const std::string& v) const;  // a word a flag's value may be
  std::string canonical(const std::string& name) const;  // '_' as '-', an alias as its option
  long long parse_integer(const std::string& name) const;  // any 64-bit integer; the callers bound it
  void load_config(const std::string& path, bool only_unset, const std::string& shown_as = "");
};

}  // namespace sgml
