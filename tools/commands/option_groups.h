// The option groups several commands share, declared once, so that a flag has the same name, meaning and default in
// every command that takes it (`sgml COMMAND --help` shows them).
//   dataset:   DATASET, the one positional argument (parse_dataset_kind), --data and --crop-boxes (the rows of the
//              training table)
//   inference: --checkpoint (alias --weights), --model auto, --image-size 0 (auto), --feature auto, --device auto,
//              --precision fp32 (the training table's row), --batch-size 64, --workers 0: eval, search and embed run
//              a stored model the same way (load_inference_model)
#pragma once
#include <optional>
#include <string>

#include "data/dataset.h"
#include "engine/device.h"
#include "engine/math_precision.h"
#include "tools/commands/options.h"
#include "training/feature_extraction.h"
#include "training/model_loading.h"

namespace sgml {

void declare_dataset_options(Options& options);
struct DatasetArgs {
  std::string kind;  // canonical name: cub | deepfashion | sop | cars | demo | demo-cub
  std::string data;  // --data (empty: the kind's default folder)
  // --crop-boxes as given: nullopt when not given or auto (eval then follows the checkpoint's run, other commands
  // crop as the kind's protocol: crops_to_boxes), else true or false (`--crop-boxes false`). load_dataset refuses
  // true for kinds without boxes.
  std::optional<bool> crop_boxes;
};
// Exactly one positional argument, a dataset kind; `usage` is shown when it is missing. A stray argument after a
// flag (`--crop-boxes maybe`) is named as a flag value that is not true, false or auto.
DatasetArgs read_dataset_options(const Options& options, const std::string& usage);

void declare_inference_options(Options& options);
struct InferenceArgs {
  std::string checkpoint;
  std::string model;    // "auto": the checkpoint's stored architecture, else detected from the weights' keys
  int image_size = 0;   // 0: the checkpoint's stored size, 224 for a bare weights file
  int eval_resize = -1; // -1 ("auto"): the checkpoint's run's, 0 for a bare weights file
  std::string feature;  // "auto": what the training run evaluated, else emb (conv without a head)
  Device device;
  MathPrecision precision = MathPrecision::Fp32;  // --precision; the command sets it before any work
  int batch_size = 64;
  int workers = 0;
};
// Every value checked; --checkpoint must be given.
InferenceArgs read_inference_options(const Options& options);

// The model of eval, search and embed, loaded as `in` says (NaN/inf refused), its feature resolved. What "auto" and 0
// resolved to (model, image size, evaluation resize, feature, device) is set in `options`, so that
// print_configuration shows what runs.
struct InferenceModel {
  LoadedModel loaded;
  std::string feature;                 // the resolved name: emb | fc | conv
  FeatureExtractionSettings settings;  // image size, resize and feature as resolved; batch size and workers of `in`
};
InferenceModel load_inference_model(Options& options, const InferenceArgs& in);
// For embed and search, which read image files whole (they have no boxes): a note when the checkpoint's run
// trained on images cropped to their boxes (CUB's protocol, --crop-boxes), whose features then differ from eval's
// of the same images; "" otherwise.
std::string whole_image_note(const LoadedModel& loaded, const std::string& command);

// The image size a training run on `kind` uses by default (configs/KIND.json, e.g. 64 for the demos).
int default_image_size(const std::string& kind);

// "sgml COMMAND: configuration:", the resolved value of every option and the build (engine/build_id.h), on stderr
// (stdout stays the result).
void print_configuration(const std::string& command, const Options& options);

}  // namespace sgml
