#include "models/arch_detect.h"

#include "engine/check.h"

namespace sgml {

std::string detect_resnet_arch(const TensorMap& tensors, const std::string& source) {
  for (const char* key : {"conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight"})
    if (!tensors.count(key))
      SGML_FAIL("'", source, "' does not hold ResNet weights with torchvision names (no ", key, ")");
  const bool bottleneck = tensors.count("layer1.0.conv3.weight") > 0;
  // ResNeXt and Wide ResNet have the same names; their first block is wider (128 channels) or grouped, which the
  // plain ResNets are not: said here, rather than as the first shape that differs.
  const Tensor& conv1 = tensors.at("layer1.0.conv1.weight");
  const Tensor& conv2 = tensors.at("layer1.0.conv2.weight");
  if (conv1.ndim() != 4 || conv2.ndim() != 4 || conv1.dim(0) != 64 || conv2.dim(0) != 64 || conv2.dim(1) != 64)
    SGML_FAIL("'", source, "' holds a ResNet variant: its first block has layer1.0.conv1.weight ",
              shape_str(conv1.shape()), " and layer1.0.conv2.weight ", shape_str(conv2.shape()),
              ", a plain ResNet [64, C, 1|3, 1|3] and [64, 64, 3, 3] (a wider or grouped block: Wide ResNet or "
              "ResNeXt?); only ResNet-18/34/50/101/152 are supported");
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

std::string resnet_arch_or_empty(const TensorMap& tensors) {
  try {
    return detect_resnet_arch(tensors, "");
  } catch (const Error&) {
    return "";
  }
}

int detect_num_attributes(const TensorMap& tensors) {
  auto it = tensors.find("head.attr.weight");
  return it == tensors.end() || it->second.ndim() != 2 ? 0 : static_cast<int>(it->second.dim(0));
}

bool holds_linear_head(const TensorMap& tensors) {
  // SGML's head has head.fc, head.emb and head.attr: a file with head.attr but no head.fc is a damaged SGML head,
  // for the strict load to name its missing keys.
  return tensors.count("head.emb.weight") > 0 && tensors.count("head.fc.weight") == 0 &&
         tensors.count("head.attr.weight") == 0;
}

}  // namespace sgml
