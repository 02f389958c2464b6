#include "training/resume_check.h"

#include "engine/check.h"
#include "training/config_fields.h"
#include "training/option_use.h"

namespace sgml {

namespace {

enum class Change { Refused, Allowed };

struct FieldRule {
  const char* name;    // the field's name in training/config_fields.h
  Change change;
  const char* note;    // for an allowed change: what it means for the resumed run
};

// The saved fields of the table. Refused: it defines the model, the batches or the objective, so the resumed run
// would not be a continuation of the stored one. A saved field without a rule here is refused (the safe side).
const FieldRule kRules[] = {
    {"dataset", Change::Refused, ""},
    {"crop-boxes", Change::Refused, ""},
    {"model", Change::Refused, ""},
    {"image-size", Change::Refused, ""},
    {"loss", Change::Refused, ""},
    {"sampling", Change::Refused, ""},
    {"classes-per-batch", Change::Refused, ""},
    {"images-per-class", Change::Refused, ""},
    {"class-balance", Change::Refused, ""},
    {"triplets-per-batch", Change::Refused, ""},
    {"alpha", Change::Refused, ""},
    {"beta", Change::Refused, ""},
    {"lambda", Change::Refused, ""},
    {"sgs-grad", Change::Refused, ""},
    {"rank-tau", Change::Refused, ""},
    {"rank-rho", Change::Refused, ""},
    {"margin", Change::Refused, ""},
    {"margin-beta", Change::Refused, ""},
    {"sampler", Change::Refused, ""},
    {"learn-beta", Change::Refused, ""},
    {"beta-nu", Change::Refused, ""},
    {"method", Change::Refused, ""},
    {"learners", Change::Refused, ""},
    {"recluster-every", Change::Refused, ""},
    {"full-embedding-epoch", Change::Refused, ""},
    {"finetune-epoch", Change::Refused, ""},
    {"batches-per-epoch", Change::Refused, ""},
    {"learner-masks", Change::Refused, ""},
    {"division", Change::Refused, ""},
    {"freeze-backbone-epochs", Change::Refused, ""},
    {"stop-reclustering", Change::Refused, ""},
    {"mask-lambda", Change::Refused, ""},
    {"mask-lr-mult", Change::Allowed, "the masks' learning rate follows the new setting from here on"},
    {"mask-init", Change::Allowed, "not used: the masks come from the checkpoint"},
    {"embedding-init", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"embedding-dim", Change::Refused, ""},
    {"head", Change::Refused, ""},
    {"dropout", Change::Refused, ""},
    {"seed", Change::Refused, ""},
    {"batch-plan", Change::Refused, ""},
    {"augment", Change::Refused, ""},
    {"train-crop", Change::Refused, ""},
    {"eval-resize", Change::Refused, ""},
    // Once the run has evaluated, a leg that evaluates another feature is refused with the test data (trainer.cpp).
    {"eval-feature", Change::Allowed, "the feature evaluated from here on"},
    {"frozen-bn", Change::Refused, ""},
    {"epochs", Change::Allowed, "the run's length changes (a cosine schedule is laid out to the new end)"},
    {"steps", Change::Allowed, "the run's length changes (a cosine schedule is laid out to the new end)"},
    {"lr", Change::Allowed, "the learning rate follows the new settings from here on"},
    {"weight-decay", Change::Allowed, "the weight decay follows the new setting from here on"},
    {"beta-lr", Change::Allowed, "the learned boundaries' learning rate follows the new setting from here on"},
    {"lr-schedule", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"lr-step-epochs", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"lr-gamma", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"warmup-steps", Change::Allowed, "the learning rate follows the new schedule from here on"},
    {"data", Change::Allowed, "another folder (moved, or a copy): its images must be the run's, which is checked"},
    {"weights", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"init", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"no-pretrained", Change::Allowed, "not used: the model comes from the checkpoint"},
    {"device", Change::Allowed, "the run goes on on the new device"},
    {"precision", Change::Allowed, "the run goes on with the new precision's rounding"},
    {"out", Change::Allowed, "the run folder was moved"},
    {"workers", Change::Allowed, ""},
    {"eval-every", Change::Allowed, ""},
    {"skip-bad-images", Change::Allowed, ""},
    {"checkpoint-every", Change::Allowed, ""},
};

const FieldRule kUnlisted{"", Change::Refused, ""};

const FieldRule& rule_of(const ConfigField& f) {
  for (const FieldRule& rule : kRules)
    if (f.name == rule.name) return rule;
  return kUnlisted;
}

std::string shown(const nlohmann::json& v) { return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump(); }

}  // namespace

std::vector<std::string> resume_rules_without_field() {
  std::vector<std::string> names;
  for (const FieldRule& rule : kRules) {
    const ConfigField* f = find_config_field(rule.name);
    if (!f || !f->saved) names.push_back(rule.name);
  }
  return names;
}

ResumeDifferences compare_for_resume(const nlohmann::json& stored, const TrainConfig& now) {
  ResumeDifferences d;
  if (!stored.is_object()) return d;
  const nlohmann::json current = now.to_json();
  for (const ConfigField& f : config_fields()) {
    const std::string key = f.key();
    if (!f.saved || !stored.contains(key) || !current.contains(key)) continue;
    const nlohmann::json& is = current.at(key);
    nlohmann::json was = stored.at(key);
    if (f.style == FieldStyle::AutoFlag) {  // an older run's bool read as its row reads it (false: auto)
      TrainConfig read;
      f.from_json(read, was, "the checkpoint");
      was = f.to_json(read);
    }
    if (was == is) continue;  // numbers compare by value (2 == 2.0)
    const FieldRule& rule = rule_of(f);
    std::string line = "--" + f.name + ": " + shown(was) + " in the checkpoint, " + shown(is) + " now";
    // A field this run does not read (--margin of an SGML run, a default that changed since) changes nothing. What
    // decides whether it is read (the loss, the method, the sampling) is refused when it differs.
    if (const OptionUse* use = find_option_use(f.name); use && !use->used(now)) {
      d.notes.push_back(line + " (not used by this run: only with " + use->needs + ")");
    } else if (rule.change == Change::Refused) {
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
              "--init ", checkpoint_path, " --out NEW_FOLDER (with the same --model, --embedding-dim and head; "
              "--weights takes the backbone alone).");
  }
  return d.notes;
}

}  // namespace sgml
