#include "tools/commands/option_groups.h"

#include <cstdio>

#include "data/dataset.h"
#include "engine/build_id.h"
#include "engine/check.h"
#include "engine/math_precision.h"
#include "models/sgml_model.h"
#include "training/option_limits.h"
#include "tools/commands/train_options.h"

namespace sgml {

void declare_dataset_options(Options& o) { declare_config_options(o, {"data", "crop-boxes"}); }

DatasetArgs read_dataset_options(const Options& o, const std::string& usage) {
  if (o.positional().size() != 1) {
    for (size_t i = 0; i < o.positional().size(); ++i)
      if (const std::string hint = o.flag_value_hint(i); !hint.empty()) SGML_FAIL(hint);
    SGML_FAIL("say which dataset: ", usage, " (see --help)");
  }
  DatasetArgs a{dataset_kind_name(parse_dataset_kind(o.positional()[0])), o.get("data"), std::nullopt};
  // A run's config.json given as --config names the dataset it trained: the same one, or the file was not meant.
  if (const auto& from_file = o.config_dataset(); from_file) {
    DatasetKind kind;
    try {
      kind = parse_dataset_kind(from_file->value);
    } catch (const Error& e) {
      SGML_FAIL(from_file->where, ": \"dataset\": ", e.what());
    }
    if (dataset_kind_name(kind) != a.kind)
      SGML_FAIL(from_file->where, ": \"dataset\" is ", dataset_kind_name(kind), ", the command's is ", a.kind,
                " (give ", dataset_kind_name(kind), " as the command's dataset, or remove the key)");
  }
  a.crop_boxes = o.get_flag_or_auto("crop-boxes");
  return a;
}

void declare_inference_options(Options& o) {
  o.add_required("checkpoint", "FILE",
                 "a checkpoint written by training (e.g. runs/demo/best.safetensors), or a bare safetensors weights "
                 "file with torchvision's names (see weights/README.md)");
  o.add_alias("weights", "checkpoint");
  o.add("model", "auto", "resnet18 | resnet34 | resnet50 | resnet101 | resnet152 | auto (the checkpoint's, else "
                         "detected from the weights' keys)");
  o.add("image-size", "0", "side of the square model input in pixels (0: the checkpoint's, 224 for a bare file)");
  o.add("eval-resize", "auto", "the evaluation transform: auto (the training run's; 0 for a bare file) | 0 (resized "
                               "straight to the image size) | R (Resize(R) then the centre square, torchvision's "
                               "Resize + CenterCrop)");
  o.add("feature", "auto", "emb (the embedding, --embedding-dim wide) | fc (1024-d) | conv (pooled backbone) | "
                           "auto (what the training run evaluated, else emb; conv for a file without an SGML head)");
  o.add("device", "auto", "cpu | cuda | cuda:N | auto");
  declare_config_options(o, {"precision"});
  o.add("batch-size", "64", "images per forward pass");
  o.add("workers", "0", "decoding threads (0: the machine's cores)");
}

InferenceArgs read_inference_options(const Options& o) {
  InferenceArgs a;
  a.checkpoint = o.get_required("checkpoint");
  a.model = o.get("model");
  a.image_size = o.get_image_size("image-size", /*zero_means_auto=*/true);
  if (o.get("eval-resize") != "auto") a.eval_resize = o.get_int("eval-resize", limits::kEvalResize);
  a.feature = o.get("feature");
  if (a.feature != "auto") parse_feature(a.feature);  // checked before the model is read
  a.device = parse_device(o.get("device"));
  a.precision = parse_math_precision(o.get("precision"));
  a.batch_size = o.get_int("batch-size", limits::kBatchSize);
  a.workers = o.get_int("workers", limits::kWorkers);
  return a;
}

InferenceModel load_inference_model(Options& o, const InferenceArgs& in) {
  InferenceModel m;
  m.loaded = load_model_for_inference(in.checkpoint, in.model, in.image_size, in.eval_resize, in.device);
  m.feature = resolve_feature(m.loaded, in.feature, in.checkpoint);
  m.settings.image_size = m.loaded.image_size;
  m.settings.eval_resize = m.loaded.eval_resize;
  m.settings.feature = parse_feature(m.feature);
  m.settings.batch_size = in.batch_size;
  m.settings.workers = in.workers;
  o.set("model", m.loaded.model->config().arch);
  o.set("image-size", std::to_string(m.loaded.image_size));
  o.set("eval-resize", std::to_string(m.loaded.eval_resize));
  o.set("feature", m.feature);
  o.set("device", in.device.str());
  return m;
}

std::string whole_image_note(const LoadedModel& loaded, const std::string& command) {
  if (loaded.run_dataset.empty()) return "";
  bool cropped = false;
  try {
    cropped = crops_to_boxes(parse_dataset_kind(loaded.run_dataset), loaded.crop_boxes);
  } catch (const Error&) {
    return "";  // a dataset this sgml does not know: nothing to say about its boxes
  }
  if (!cropped) return "";
  return str_cat("note: the run trained on ", loaded.run_dataset, " images cropped to their bounding boxes; sgml ",
                 command,
                 " reads each file whole (it has no boxes), so its features differ from sgml eval's of the "
                 "same images: give it cropped files to match");
}

int default_image_size(const std::string& kind) { return dataset_config_defaults(kind).image_size; }

void print_configuration(const std::string& command, const Options& o) {
  std::fprintf(stderr, "sgml %s: configuration:\n%s  (sgml build %s)\n", command.c_str(), o.resolved().c_str(),
               build_id());
}

}  // namespace sgml
