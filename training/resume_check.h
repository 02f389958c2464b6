// --resume with options other than the checkpoint's: which differences a resumed run can take and which it cannot.
// A resumed run continues the stored one exactly, so what defines the model, the batches or the objective must be
// the same (model, image size, dataset, loss and its parameters, sampling and batch composition, seed,
// augmentation); what only says how long to go on, where to run or what to report may change, with a note. So may
// a field the run does not read (training/option_use.h: --margin of an SGML run).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "training/train_config.h"

namespace sgml {

struct ResumeDifferences {
  std::vector<std::string> refused;  // "--image-size: 64 in the checkpoint, 96 now"
  std::vector<std::string> notes;    // allowed changes, each with what it means
};

// Compares the configuration stored in a checkpoint (TrainConfig::to_json of the run that wrote it) with the one a
// resumed run asks for; fields absent from the stored one (an older checkpoint) are not compared.
ResumeDifferences compare_for_resume(const nlohmann::json& stored, const TrainConfig& now);

// The names in the resume rules that are no saved field of training/config_fields.h (a typo would leave a field
// unlisted, hence refused): empty when the two tables agree.
std::vector<std::string> resume_rules_without_field();

// Throws sgml::Error listing every refused difference (and how to start a new run from the checkpoint instead);
// returns the notes on allowed ones for the caller to print.
std::vector<std::string> check_resume_compatible(const nlohmann::json& stored, const TrainConfig& now,
                                                 const std::string& checkpoint_path);

}  // namespace sgml
