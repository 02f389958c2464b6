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
// The rule of option `name`; nullptr for an option every run uses.
const OptionUse* find_option_use(const std::string& name);

}  // namespace sgml
