// Which ResNet a state_dict belongs to, from its keys: bottleneck blocks have conv3, and the depth of layer3
// tells the rest (2: 18, 6: 34 or 50, 23: 101, 36: 152). The attribute count comes from head.attr.weight.
#pragma once
#include <string>

#include "engine/safetensors.h"

namespace sgml {

// "resnet18" ... "resnet152"; an error naming `source` when the keys fit no ResNet.
std::string detect_resnet_arch(const TensorMap& tensors, const std::string& source);
// The same, or "" when the keys fit no ResNet (the loader then names what is wrong): for a check that a file is the
// ResNet a command expects.
std::string resnet_arch_or_empty(const TensorMap& tensors);
// K of head.attr.weight (K, 1024), or 0 when the file has no head.
int detect_num_attributes(const TensorMap& tensors);
// Whether the file holds Divide & Conquer's linear head (models/sgml_model.h): head.emb with no head.fc before it
// and no head.attr beside it.
bool holds_linear_head(const TensorMap& tensors);

}  // namespace sgml
