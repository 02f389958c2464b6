#include "training/model_loading.h"

#include "engine/check.h"
#include "models/arch_detect.h"
#include "training/checkpoint.h"
#include "training/config_fields.h"
#include "training/option_limits.h"

namespace sgml {

namespace {
// A string field of a checkpoint's stored configuration ("" when absent); a wrong type names the file and field.
std::string config_string(const Checkpoint& c, const char* field, const std::string& path) {
  if (!c.config.contains(field)) return "";
  const nlohmann::json& v = c.config[field];
  if (!v.is_string())
    SGML_FAIL("checkpoint '", path, "': stored configuration field '", field, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

// The run's --crop-boxes (nullopt: auto, or absent). Read through its table row, which also reads the bool that runs
// stored before auto existed (false then meant auto).
std::optional<bool> config_crop_boxes(const Checkpoint& c, const std::string& path) {
  if (!c.config.contains("crop_boxes")) return std::nullopt;
  TrainConfig run;
  const std::string source = "checkpoint '" + path + "'";
  find_config_field("crop-boxes")->from_json(run, c.config["crop_boxes"], source);
  try {
    return parse_crop_boxes(run.crop_boxes);
  } catch (const Error& e) {
    SGML_FAIL(source, ": the stored training configuration: ", e.what());
  }
}

// An integer field of a checkpoint's stored configuration (`absent` when absent); a wrong type names the file.
int config_int(const Checkpoint& c, const char* field, int absent, const std::string& path) {
  if (!c.config.contains(field)) return absent;
  const nlohmann::json& v = c.config[field];
  if (!v.is_number_integer() || v.get<long long>() < 1 || v.get<long long>() > 4096)
    SGML_FAIL("checkpoint '", path, "': stored configuration field '", field, "' must be an integer from 1 to 4096, "
              "got ", v.dump());
  return static_cast<int>(v.get<long long>());
}

// The stored evaluation resize (0 when absent: runs before --eval-resize resized straight to the image size).
int config_eval_resize(const Checkpoint& c, const std::string& path) {
  if (!c.config.contains("eval_resize")) return 0;
  const nlohmann::json& v = c.config["eval_resize"];
  if (!v.is_number_integer() || v.get<long long>() < limits::kEvalResize.min ||
      v.get<long long>() > limits::kEvalResize.max)
    SGML_FAIL("checkpoint '", path, "': stored configuration field 'eval_resize' must be an integer from ",
              limits::kEvalResize.min, " to ", limits::kEvalResize.max, ", got ", v.dump());
  return static_cast<int>(v.get<long long>());
}

// The stored image size (0 when absent), checked by the same rule as --image-size.
int config_image_size(const Checkpoint& c, const std::string& path) {
  if (!c.config.contains("image_size")) return 0;
  const nlohmann::json& v = c.config["image_size"];
  const std::string what = str_cat("checkpoint '", path, "': stored configuration field 'image_size'");
  if (!v.is_number_integer()) SGML_FAIL(what, " must be an integer, got ", v.dump());
  check_image_size(v.get<long long>(), what);
  return static_cast<int>(v.get<long long>());
}
}  // namespace

std::string resolve_feature(const LoadedModel& loaded, const std::string& requested, const std::string& path) {
  const std::string name = requested != "auto"           ? requested
                           : !loaded.eval_feature.empty() ? loaded.eval_feature
                           : loaded.has_head              ? "emb"
                                                          : "conv";
  if (parse_feature(name) != FeatureKind::Conv && !loaded.has_head)
    SGML_FAIL("'", path, "' holds no SGML head (head.*), so --feature ", name,
              " would come from an untrained head: only --feature conv is meaningful (train a model for fc and emb)");
  return name;
}

LoadedModel load_model_for_inference(const std::string& path, const std::string& model_override, int size_override,
                                     int eval_resize_override, Device device) {
  const Checkpoint c = load_checkpoint(path);  // validated, and refused when it holds NaN or infinity
  LoadedModel out;
  SgmlModelConfig mc;
  const std::string stored_arch = c.is_training_checkpoint ? config_string(c, "model", path) : "";
  mc.arch = model_override != "auto" && !model_override.empty() ? model_override
            : !stored_arch.empty()                              ? stored_arch
                                                                : detect_resnet_arch(c.model, path);
  // A --model that is not the file's: said in those words (a mismatched key's shape would be all the loader says).
  if (mc.arch != stored_arch && !stored_arch.empty())
    SGML_FAIL("--model ", mc.arch, ": '", path, "' is a ", stored_arch, " checkpoint (--model auto reads it as such)");
  if (stored_arch.empty() && model_override != "auto" && !model_override.empty())
    if (const std::string held = resnet_arch_or_empty(c.model); !held.empty() && held != mc.arch)
      SGML_FAIL("--model ", mc.arch, ": '", path, "' holds ", held, " weights (--model auto reads them as such)");
  const int stored_size = c.is_training_checkpoint ? config_image_size(c, path) : 0;
  out.image_size = size_override > 0 ? size_override : stored_size > 0 ? stored_size : 224;
  const int stored_resize = c.is_training_checkpoint ? config_eval_resize(c, path) : 0;
  out.eval_resize = eval_resize_override >= 0 ? eval_resize_override : stored_resize;
  if (out.eval_resize != 0 && out.eval_resize < out.image_size)
    SGML_FAIL("evaluation resize ", out.eval_resize, eval_resize_override >= 0 ? " (--eval-resize)" : " (the run's)",
              " is below the image size ", out.image_size, size_override > 0 ? " (--image-size)" : "",
              ": the centre crop must fit in the resized image (--eval-resize 0 resizes straight to the image size)");
  if (c.is_training_checkpoint) {
    out.eval_feature = config_string(c, "eval_feature", path);
    out.crop_boxes = config_crop_boxes(c, path);
    out.run_dataset = config_string(c, "dataset", path);
    out.build = c.build;
    out.step = c.progress.step;
    // As metrics.jsonl labels it: the epoch its last step belongs to (a run stopped mid-epoch is in the next one).
    out.epoch = c.progress.epoch + (c.progress.step_in_epoch > 0 ? 1 : 0);
  }
  const int k = detect_num_attributes(c.model);
  mc.num_attributes = k > 0 ? k : 1;
  // The embedding width from the head itself; Divide & Conquer's learners from the stored configuration.
  if (c.model.count("head.emb.weight") && c.model.at("head.emb.weight").ndim() == 2)
    mc.embedding_dim = static_cast<int>(c.model.at("head.emb.weight").dim(0));
  // Divide & Conquer's linear head: an embedding layer with no fc layer before it.
  if (holds_linear_head(c.model)) mc.head = HeadKind::Linear;
  // Learned masks (the TPAMI variant) are not part of the network: it evaluates the whole, unmasked embedding.
  if (c.is_training_checkpoint && config_string(c, "method", path) == "dnc" &&
      config_string(c, "learner_masks", path) != "learned")
    mc.learners = config_int(c, "learners", 1, path);
  out.model = std::make_unique<SgmlModel>(mc);
  out.has_head = out.model->load_weights(c.model, path, /*require_head=*/false);
  out.model->to(device);
  return out;
}

}  // namespace sgml
