#include "training/resume_check.h"

#include "engine/check.h"

namespace sgml {

namespace {

enum class Change { Refused, Allowed };

struct FieldRule {
  const char* key;     // as TrainConfig::to_json writes it
  Change change;
  const char* note;    // for an allowed change: what it means for the resumed run
};

// Every field of TrainConfig::to_json. Refused: it defines the model, the batches or the objective, so the resumed
// run would not be a continuation of the stored one.
const FieldRule kRules[] = {
    {"dataset", Change::Refused, ""},
    {"model", Change::Refused, ""},
    {"image_size", Change::Refused, ""},
    {"loss", Change::Refused, ""},
    {"sampling", Change::Refused, ""},
    {"classes_per_batch", Change::Refused, ""},
    {"images_per_class", Change::Refused, ""},
    {"triplets_per_batch", Change::Refused, ""},
    {"alpha", Change::Refused, ""},
    {"beta", Change::Refused, ""},
    {"lambda", Change::Refused, ""},
    {"sgs_grad", Change::Refused, ""},
    {"seed", Change::Refused, ""},
    {"batch_plan", Change::Refused, ""},
    {"augment", Change::Refused, ""},
    {"frozen_bn", Change::Refused, ""},
    {"epochs", Change::Allowed, "the run's length changes (a cosine schedule is stretched to the new end)"},
    {"steps", Change::Allowed, "the run's length changes (a cosine schedule is stretched to the new end)"},
    {"lr", Change::Allowed, "the learning rate follows the new settings from here on"},
    {"weight_decay", Change::Allowed, "the weight decay follows the new setting from here on"},
    {"lr_schedule", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"lr_step_epochs", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"lr_gamma", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"warmup_steps", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"data", Change::Allowed, "make sure the folder holds the same dataset: batches are drawn by image index"},
    {"weights", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"init", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"no_pretrained", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"device", Change::Allowed, "the run goes on on the new device"},
    {"out", Change::Allowed, "the run folder was moved"},
    {"workers", Change::Allowed, ""},
    {"eval_every", Change::Allowed, ""},
    {"eval_feature", Change::Allowed, ""},
    {"skip_bad_images", Change::Allowed, ""},
    {"checkpoint_every", Change::Allowed, ""},
};

// "--image-size" for "image_size".
std::string option_name(const std::string& key) {
  std::string name = "--" + key;
  for (char& c : name)
    if (c == '_') c = '-';
  return name;
}

std::string shown(const nlohmann::json& v) { return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump(); }

}  // namespace

ResumeDifferences compare_for_resume(const nlohmann::json& stored, const TrainConfig& now) {
  ResumeDifferences d;
  if (!stored.is_object()) return d;
  const nlohmann::json current = now.to_json();
  for (const FieldRule& rule : kRules) {
    if (!stored.contains(rule.key) || !current.contains(rule.key)) continue;
    const nlohmann::json &was = stored.at(rule.key), &is = current.at(rule.key);
    if (was == is) continue;  // numbers compare by value (2 == 2.0)
    std::string line = option_name(rule.key) + ": " + shown(was) + " in the checkpoint, " + shown(is) + " now";
    if (rule.change == Change::Refused) {
      d.refused.push_back(line);
    } else {
      if (*rule.note) line += " (" + std::string(rule.note) + ")";
      d.notes.push_back(line);
    }
  }
  return d;
}

std::vector<std::string> check_resume_compatible(const nlohmann::json& stored, const TrainConfig& now,
                                                 const std::string& checkpoint_path) {
  const ResumeDifferences d = compare_for_resume(stored, now);
  if (!d.refused.empty()) {
    std::string list;
    for (const std::string& line : d.refused) list += "\n  " + line;
    SGML_FAIL("--resume: '", checkpoint_path, "' was trained with settings a resumed run cannot change:", list,
              "\nResume with the checkpoint's settings (its config.json), or start a new run from its weights with "
              "--init ", checkpoint_path, " --out NEW_FOLDER.");
  }
  return d.notes;
}

}  // namespace sgml
