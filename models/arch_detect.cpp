#include "models/arch_detect.h"

#include "engine/check.h"

namespace sgml {

std::string detect_resnet_arch(const TensorMap& tensors, const std::string& source) {
  if (!tensors.count("conv1.weight") || !tensors.count("layer1.0.conv1.weight"))
    SGML_FAIL("'", source, "' does not hold ResNet weights with torchvision names (no conv1.weight)");
  const bool bottleneck = tensors.count("layer1.0.conv3.weight") > 0;
  int layer3 = 0;
  while (tensors.count(str_cat("layer3.", layer3, ".conv1.weight"))) ++layer3;
  if (!bottleneck && layer3 == 2) return "resnet18";
  if (!bottleneck && layer3 == 6) return "resnet34";
  if (bottleneck && layer3 == 6) return "resnet50";
  if (bottleneck && layer3 == 23) return "resnet101";
  if (bottleneck && layer3 == 36) return "resnet152";
  SGML_FAIL("'", source, "': ", layer3, " ", bottleneck ? "bottleneck" : "basic",
            " blocks in layer3 fit no ResNet-18/34/50/101/152");
}

int detect_num_attributes(const TensorMap& tensors) {
  auto it = tensors.find("head.attr.weight");
  return it == tensors.end() || it->second.ndim() != 2 ? 0 : static_cast<int>(it->second.dim(0));
}

bool holds_linear_head(const TensorMap& tensors) {
  return tensors.count("head.emb.weight") > 0 && tensors.count("head.fc.weight") == 0;
}

}  // namespace sgml
