// ResNet-18/34/50/101/152 exactly as torchvision builds them (v1.5: the stride sits on the 3x3 conv of the
// bottleneck), with torchvision's state_dict names; the ImageNet classifier `fc` is left out.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "layers/conv_bn_inference.h"
#include "models/modules.h"

namespace sgml {

struct ResNetSpec {
  std::string name;
  bool bottleneck;          // Bottleneck (50/101/152) or BasicBlock (18/34)
  std::vector<int> blocks;  // blocks per stage
  int feature_dim() const { return bottleneck ? 2048 : 512; }
};
// "resnet18" ... "resnet152"; anything else is an error listing the valid names.
ResNetSpec resnet_spec(const std::string& name);

// One residual block: BasicBlock (conv1, conv2) or Bottleneck (conv1, conv2, conv3), each conv followed by its BN,
// and an optional downsample (conv 1x1 + BN) on the shortcut.
class ResidualBlock {
 public:
  ResidualBlock(ParameterStore& store, const std::string& prefix, bool bottleneck, int in, int planes, int stride,
                std::mt19937& rng);
  Variable forward(const Variable& x, bool training);
  // Its convolutions and batch norms as one inference chain (layers/conv_bn_inference.h).
  ConvBnBlock inference_block() const;

 private:
  std::vector<std::unique_ptr<Conv2d>> convs_;
  std::vector<std::unique_ptr<BatchNorm2d>> bns_;
  std::unique_ptr<Conv2d> down_conv_;
  std::unique_ptr<BatchNorm2d> down_bn_;
};

class ResNetBackbone {
 public:
  ResNetBackbone(ParameterStore& store, const ResNetSpec& spec, std::mt19937& rng);
  // x (N,3,H,W) normalised images -> (N, feature_dim) pooled features.
  Variable forward(const Variable& x, bool training);
  int feature_dim() const { return spec_.feature_dim(); }

 private:
  ResNetSpec spec_;
  std::unique_ptr<Conv2d> conv1_;
  std::unique_ptr<BatchNorm2d> bn1_;
  std::vector<std::unique_ptr<ResidualBlock>> blocks_;
};

}  // namespace sgml
