// The training settings as command-line options: each row of the field table (training/config_fields.h) becomes
// one option with the row's name, help and default (the value in a default TrainConfig), and is read back with the
// row's bounds. `sgml train` declares every row; other commands declare the few they share with it (bench: the
// model, the image size, the batch composition), so that a flag has the same name, meaning and default everywhere.
#pragma once
#include <string>
#include <vector>

#include "tools/commands/options.h"
#include "training/train_config.h"

namespace sgml {

// Declares the rows named (the table's order is kept by the caller's list).
void declare_config_options(Options& options, const std::vector<std::string>& names);
// Reads the rows named into `config`, checking each value as its row says.
void read_config_options(const Options& options, TrainConfig& config, const std::vector<std::string>& names);

// Every `sgml train` option, and --config FILE.
void declare_train_options(Options& options);
// The configuration the options give (dataset and defaults for paths still to resolve), checked across fields.
TrainConfig train_config_from_options(const Options& options);

// Options given on the command line that the run's other settings leave without effect (--margin with --loss sgml,
// --beta-lr without --learn-beta, ...): one note each, naming what the option needs. The run goes on (a script may
// pass one set of options to several kinds of run); the note keeps a user from believing the option took effect.
// Only the command line is looked at: a --config file, e.g. a run's own config.json, holds every field.
std::vector<std::string> unused_option_notes(const Options& options, const TrainConfig& config);

// --eval-resize is absolute (as torchvision's Resize(256)): a config's 256 was chosen for the default 224 px. When
// the command line changes --image-size but not --eval-resize, a note says what the evaluation now keeps and the
// value at the same ratio; empty otherwise.
std::string eval_resize_note(const Options& options, const TrainConfig& config);

// The configuration a training run on `dataset` starts from: the TrainConfig defaults with configs/DATASET.json
// applied (the shipped per-dataset settings, e.g. 64 px for the demos). Used for defaults of other commands.
TrainConfig dataset_config_defaults(const std::string& dataset);

}  // namespace sgml
