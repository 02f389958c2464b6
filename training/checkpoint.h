// Checkpoints: one safetensors file holding the model (torchvision names + head.*), the optimiser state under
// "optimizer.*", and in its metadata the training configuration and progress as JSON. Written atomically
// (temporary file + rename), so an interrupted write never leaves a broken checkpoint. Because the model keys are
// plain, a checkpoint is also a weights file for `sgml eval`, `sgml embed` and `--weights`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "engine/safetensors.h"

namespace sgml {

struct TrainProgress {
  int64_t step = 0;   // optimiser steps taken
  int epoch = 0;      // epochs completed
  int64_t step_in_epoch = 0;
  double best_recall_at_1 = -1.0;
  int bad_images_skipped = 0;
  nlohmann::json to_json() const;
  static TrainProgress from_json(const nlohmann::json& j);
};

struct Checkpoint {
  TensorMap model;        // parameters and buffers by name
  TensorMap optimizer;    // e.g. adam.m, adam.v, adam.step (without the "optimizer." prefix)
  nlohmann::json config;  // TrainConfig::to_json(); null for a bare weights file
  TrainProgress progress;
  bool is_training_checkpoint = false;  // false for a bare weights file
};

void save_checkpoint(const std::string& path, const TensorMap& model, const TensorMap& optimizer,
                     const nlohmann::json& config, const TrainProgress& progress);
// Reads a checkpoint written by training, or a bare weights file (then config is null and optimizer empty).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace sgml
