#include "training/checkpoint.h"

#include "engine/check.h"

namespace sgml {

namespace {
const char* kOptimizerPrefix = "optimizer.";
}

nlohmann::json TrainProgress::to_json() const {
  return {{"step", step}, {"epoch", epoch}, {"step_in_epoch", step_in_epoch},
          {"best_recall_at_1", best_recall_at_1}, {"bad_images_skipped", bad_images_skipped}};
}

TrainProgress TrainProgress::from_json(const nlohmann::json& j) {
  TrainProgress p;
  p.step = j.value("step", int64_t(0));
  p.epoch = j.value("epoch", 0);
  p.step_in_epoch = j.value("step_in_epoch", int64_t(0));
  p.best_recall_at_1 = j.value("best_recall_at_1", -1.0);
  p.bad_images_skipped = j.value("bad_images_skipped", 0);
  return p;
}

void save_checkpoint(const std::string& path, const TensorMap& model, const TensorMap& optimizer,
                     const nlohmann::json& config, const TrainProgress& progress) {
  TensorMap all = model;
  for (const auto& [name, t] : optimizer) all[kOptimizerPrefix + name] = t;
  save_safetensors(path, all,
                   {{"sgml_checkpoint", "1"}, {"config", config.dump()}, {"progress", progress.to_json().dump()}});
}

Checkpoint load_checkpoint(const std::string& path) {
  Metadata meta;
  TensorMap all = load_safetensors(path, &meta);
  Checkpoint c;
  for (auto& [name, t] : all) {
    if (name.rfind(kOptimizerPrefix, 0) == 0)
      c.optimizer[name.substr(std::string(kOptimizerPrefix).size())] = t;
    else
      c.model[name] = t;
  }
  if (meta.count("sgml_checkpoint")) {
    c.is_training_checkpoint = true;
    try {
      c.config = nlohmann::json::parse(meta.at("config"));
      c.progress = TrainProgress::from_json(nlohmann::json::parse(meta.at("progress")));
    } catch (const std::exception& e) {
      SGML_FAIL("checkpoint '", path, "' has corrupt metadata: ", e.what());
    }
  }
  return c;
}

}  // namespace sgml
