#include "training/model_loading.h"

#include "engine/check.h"
#include "models/arch_detect.h"
#include "training/checkpoint.h"

namespace sgml {

std::string resolve_feature(const LoadedModel& loaded, const std::string& requested) {
  if (requested != "auto") return requested;
  if (!loaded.eval_feature.empty()) return loaded.eval_feature;
  return loaded.has_head ? "emb" : "conv";
}

LoadedModel load_model_for_inference(const std::string& path, const std::string& model_override, int size_override,
                                     Device device) {
  const Checkpoint c = load_checkpoint(path);
  LoadedModel out;
  SgmlModelConfig mc;
  mc.arch = model_override != "auto" && !model_override.empty() ? model_override
            : c.is_training_checkpoint && c.config.contains("model") ? c.config["model"].get<std::string>()
                                                                      : detect_resnet_arch(c.model, path);
  out.image_size = size_override > 0                                                   ? size_override
                   : c.is_training_checkpoint && c.config.contains("image_size") ? c.config["image_size"].get<int>()
                                                                                 : 224;
  if (c.is_training_checkpoint) out.eval_feature = c.config.value("eval_feature", std::string());
  const int k = detect_num_attributes(c.model);
  mc.num_attributes = k > 0 ? k : 1;
  out.model = std::make_unique<SgmlModel>(mc);
  out.has_head = out.model->load_weights(c.model, path, /*require_head=*/false);
  out.model->to(device);
  return out;
}

}  // namespace sgml
