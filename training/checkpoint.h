// Checkpoints: one safetensors file holding the model (torchvision names + head.*), the optimiser state under
// "optimizer.*", and in its metadata the training configuration and progress as JSON. Written atomically
// (temporary file + rename), so an interrupted write never leaves a broken checkpoint; the partial temporary of a
// write killed midway is removed by the next save or run start. Because the model keys are
// plain, a checkpoint is also a weights file for `sgml eval`, `sgml embed` and `--weights`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/safetensors.h"

namespace sgml {

struct TrainProgress {
  int64_t step = 0;   // optimiser steps taken
  int epoch = 0;      // epochs completed
  int64_t step_in_epoch = 0;
  double best_recall_at_1 = -1.0;
  int bad_images_skipped = 0;
  // Divide & Conquer (training/dnc.h): the cluster of each training image (-1: left out) and the epoch (1-based)
  // whose start computed it; empty and 0 before the first clustering and for other methods.
  std::vector<int> clusters;
  int clustered_epoch = 0;
  // What the run trains on (BatchSource::training_data: counts and a fingerprint of the list); "" in checkpoints
  // written before it was kept.
  std::string training_data;
  nlohmann::json to_json() const;
  // `path` names the checkpoint in errors (a field of the wrong type or range).
  static TrainProgress from_json(const nlohmann::json& j, const std::string& path);
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
// A file holding NaN or infinity (model or optimiser state) is refused, naming the tensors.
Checkpoint load_checkpoint(const std::string& path);
// Removes the partial files that writes interrupted by kill -9 left in a run folder (last/best checkpoints,
// config.json, metrics.jsonl temporaries whose process is gone). Returns the files removed.
std::vector<std::string> remove_stale_run_temporaries(const std::string& run_dir);
// For a new run (not --resume) into `run_dir`: moves the files an earlier run left there into a new subfolder
// earlier-N (the first N free), so that nothing of it is lost and none of it mixes with the new run (a stale
// best.safetensors of another model beside the new last.safetensors). Returns that subfolder, "" when there was none.
std::string set_aside_earlier_run(const std::string& run_dir);

}  // namespace sgml
