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

// What a run trains and evaluates on, for --resume to check that it goes on with the same (BatchSource::data); a
// field is "" when not known (a checkpoint written before it was kept, a source that cannot say).
struct DataDescription {
  // "700 images of 100 classes, list 0123456789abcdef": the training images' paths below the dataset's folder and
  // their classes, in list order (a moved folder is the same data).
  std::string training;
  // "700 boxes, list ...": the boxes the training images are cropped to; "none" when they are not cropped.
  std::string training_boxes;
  // "stamps ...": a fingerprint of the training image files' sizes and modification times (data/file_stamps.h), so
  // that files replaced under their names between an interruption and --resume are noticed.
  std::string training_files;
  // "Q queries and G gallery images, list ..., boxes ..., feature F" or "T test images, ...": paths, classes and
  // boxes of the evaluation's images and the feature evaluated, which metrics.jsonl and best.safetensors compare
  // across the run; and, as training_files, their files' stamps. Both "" until the run has evaluated.
  std::string evaluation;
  std::string evaluation_files;
  // "cache" (the decoded-image cache of sgml prepare) or "files": where the training images are read from, which
  // the random crops depend on.
  std::string image_source;
};

struct TrainProgress {
  int64_t step = 0;   // optimiser steps taken
  int epoch = 0;      // epochs completed
  int64_t step_in_epoch = 0;
  double best_recall_at_1 = -1.0;
  int bad_images_skipped = 0;
  // The evaluation at this step was stopped midway by SIGINT or SIGTERM (training/interrupt.h): --resume runs it
  // first, so that a stop during an epoch's evaluation loses neither the epoch nor its evaluation.
  bool evaluation_pending = false;
  // The OpenMP threads of the CPU's computation when saved (0: not recorded): the CPU's sums depend on their count.
  int cpu_threads = 0;
  // Divide & Conquer (training/dnc.h): the cluster of each training image (-1: left out) and the epoch (1-based)
  // whose start computed it; empty and 0 before the first clustering and for other methods.
  std::vector<int> clusters;
  int clustered_epoch = 0;
  DataDescription data;
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
  std::string build;                    // the sgml build that wrote it (engine/build_id.h); "" before it was kept
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
