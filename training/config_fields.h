// The one description of every training setting: its name (the option --NAME, the JSON key NAME with '_' for '-'),
// the TrainConfig member it fills, its help text and bounds. The default is the member's value in a default
// TrainConfig, never written a second time. Option parsing (tools/commands/train_options.cpp), the --config file,
// the saved config.json and the checkpoint's stored configuration (TrainConfig::to_json / from_json), the printed
// configuration (format_config) and the resume rules (resume_check.cpp) all go through this table.
#pragma once
#include <climits>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "training/option_limits.h"
#include "training/train_config.h"

namespace sgml {

using ConfigMember = std::variant<std::string TrainConfig::*, bool TrainConfig::*, int TrainConfig::*,
                                  unsigned TrainConfig::*, double TrainConfig::*, LossMode TrainConfig::*,
                                  Sampling TrainConfig::*>;

enum class FieldStyle {
  Plain,
  Path,       // a file or folder name: JSON through path_to_json (a name need not be UTF-8)
  Flag,       // a bool given as --NAME (no value)
  AutoFlag,   // a string auto | true | false: not given is auto, --NAME alone true, --NAME false (or auto) either way
  OnOff,      // a bool given as --NAME on|off
  ImageSize,  // an int checked by check_image_size, the rule every command shares
};

struct ConfigField {
  std::string name;  // "image-size"
  ConfigMember member;
  std::string help;
  FieldStyle style = FieldStyle::Plain;
  IntRange ints{INT_MIN, INT_MAX};          // int and unsigned members
  RealRange reals = limits::kAnyFloat;      // double members
  std::vector<std::string> choices;         // string members with a fixed set of values
  std::string default_text;                 // shown in --help instead of the value when the default means more
  bool saved = true;                        // in config.json and the checkpoint
  bool option = true;                       // a command-line option (false: dataset, the positional argument)

  std::string key() const;  // "image_size", the JSON key
  // The member's value in `c` as an option value ("64", "on", "true", "sgml", "0.0001").
  std::string text(const TrainConfig& c) const;
  nlohmann::json to_json(const TrainConfig& c) const;
  // Reads `value` into `c`, checking its JSON type; errors name `source` and the key.
  void from_json(TrainConfig& c, const nlohmann::json& value, const std::string& source) const;
};

// Every field, in the order of --help and of the printed configuration.
const std::vector<ConfigField>& config_fields();
// The field named `name` ('-' or '_' alike); nullptr when there is none.
const ConfigField* find_config_field(const std::string& name);

// "  name = value" for every field, one per line (printed at the start of a run).
std::string format_config(const TrainConfig& c);

}  // namespace sgml
