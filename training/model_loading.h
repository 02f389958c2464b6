// Building a model from what `--checkpoint` names: a checkpoint written by training (its saved configuration gives
// the architecture and image size) or a bare safetensors weights file (architecture detected from the keys, or
// --model; image size from --image-size). The attribute count comes from head.attr.weight.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "models/sgml_model.h"

namespace sgml {

struct LoadedModel {
  std::unique_ptr<SgmlModel> model;
  int image_size = 224;
  int eval_resize = 0;       // the evaluation transform (data/image_transform.h): the override, else the run's
  std::string eval_feature;  // the feature the run evaluated, when the checkpoint says
  // The run's --crop-boxes when it says either way; nullopt for auto (the dataset's protocol) and a bare file.
  std::optional<bool> crop_boxes;
  bool has_head = false;
  // Of a training checkpoint: the dataset its run trained on, and where the run was when it was written (its
  // epoch labelled as metrics.jsonl labels an evaluation there); "" and -1 for a bare weights file.
  std::string run_dataset;
  int64_t step = -1;
  int epoch = -1;
  std::string build;  // the sgml build that wrote the file, when it says
};

// The feature to use: `requested` unless "auto", else what the training run evaluated, else emb (conv when the
// file has no head). Fails when it needs the head (fc, emb) and the file at `path` holds none: the head would be
// freshly initialised, its features random.
std::string resolve_feature(const LoadedModel& loaded, const std::string& requested, const std::string& path);

// model_override / size_override / eval_resize_override: "auto" / 0 / -1 to take them from the file (a bare weights
// file: detected / 224 / 0). An evaluation resize below the image size is an error saying which came from where.
LoadedModel load_model_for_inference(const std::string& path, const std::string& model_override, int size_override,
                                     int eval_resize_override, Device device);

}  // namespace sgml
