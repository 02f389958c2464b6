// The training options that only some runs use, and what each needs (--margin only with --loss margin, ...). One
// table for the two places that must agree on it: `sgml train` notes such an option given without effect
// (tools/commands/train_options.cpp), and --resume lets such a field differ from the checkpoint's, since it changes
// nothing in the resumed run (resume_check.cpp).
#pragma once
#include <string>
#include <vector>

#include "training/train_config.h"

namespace sgml {

struct OptionUse {
  const char* option;                  // a field of training/config_fields.h: "margin"
  bool (*used)(const TrainConfig&);    // whether a run with this configuration reads the option
  const char* needs;                   // what it is used with, in the user's words: "--loss margin"
};

// Every option that some runs leave without effect, in the order the notes list them.
const std::vector<OptionUse>& option_uses();
// Whether a run with configuration `c` reads option `name`; true for an option every run uses.
bool option_used(const std::string& name, const TrainConfig& c);
// What option `name` is used with ("--loss margin"); empty for an option every run uses.
std::string option_needs(const std::string& name);

}  // namespace sgml
