#include "models/resnet.h"

#include "engine/check.h"
#include "layers/conv_bn_inference.h"

namespace sgml {

ResNetSpec resnet_spec(const std::string& name) {
  if (name == "resnet18") return {name, false, {2, 2, 2, 2}};
  if (name == "resnet34") return {name, false, {3, 4, 6, 3}};
  if (name == "resnet50") return {name, true, {3, 4, 6, 3}};
  if (name == "resnet101") return {name, true, {3, 4, 23, 3}};
  if (name == "resnet152") return {name, true, {3, 8, 36, 3}};
  SGML_FAIL("unknown model '", name, "': expected resnet18, resnet34, resnet50, resnet101 or resnet152");
}

ResidualBlock::ResidualBlock(ParameterStore& store, const std::string& prefix, bool bottleneck, int in, int planes,
                             int stride, std::mt19937& rng) {
  const int expansion = bottleneck ? 4 : 1, out = planes * expansion;
  if (bottleneck) {
    convs_.push_back(std::make_unique<Conv2d>(store, prefix + "conv1.", in, planes, 1, 1, 0, rng));
    bns_.push_back(std::make_unique<BatchNorm2d>(store, prefix + "bn1.", planes));
    convs_.push_back(std::make_unique<Conv2d>(store, prefix + "conv2.", planes, planes, 3, stride, 1, rng));
    bns_.push_back(std::make_unique<BatchNorm2d>(store, prefix + "bn2.", planes));
    convs_.push_back(std::make_unique<Conv2d>(store, prefix + "conv3.", planes, out, 1, 1, 0, rng));
    bns_.push_back(std::make_unique<BatchNorm2d>(store, prefix + "bn3.", out));
  } else {
    convs_.push_back(std::make_unique<Conv2d>(store, prefix + "conv1.", in, planes, 3, stride, 1, rng));
    bns_.push_back(std::make_unique<BatchNorm2d>(store, prefix + "bn1.", planes));
    convs_.push_back(std::make_unique<Conv2d>(store, prefix + "conv2.", planes, planes, 3, 1, 1, rng));
    bns_.push_back(std::make_unique<BatchNorm2d>(store, prefix + "bn2.", planes));
  }
  if (stride != 1 || in != out) {
    down_conv_ = std::make_unique<Conv2d>(store, prefix + "downsample.0.", in, out, 1, stride, 0, rng);
    down_bn_ = std::make_unique<BatchNorm2d>(store, prefix + "downsample.1.", out);
  }
}

namespace {

// Evaluation without a tape on the CPU runs the whole backbone as fused chains (layers/conv_bn_inference.h).
bool fused_inference(const Variable& x, bool training) {
  return !training && !grad_enabled() && x.value().device().is_cpu();
}

ConvBnStage stage(const Conv2d& conv, const BatchNorm2d& bn) {
  return {&conv.weight.value(), conv.stride, conv.pad, &bn.weight.value(), &bn.bias.value(),
          &bn.buffers.running_mean, &bn.buffers.running_var, bn.buffers.eps};
}

}  // namespace

ConvBnBlock ResidualBlock::inference_block() const {
  ConvBnBlock b;
  for (size_t i = 0; i < convs_.size(); ++i) b.chain.push_back(stage(*convs_[i], *bns_[i]));
  if (down_conv_) {
    b.shortcut = Shortcut::Downsample;
    b.downsample = stage(*down_conv_, *down_bn_);
  }
  return b;
}

// relu(bn(conv(...)) ...) and, last, relu(bn(conv(h)) + shortcut), each batch norm with its epilogue in one pass.
Variable ResidualBlock::forward(const Variable& x, bool training) {
  Variable shortcut = down_conv_ ? (*down_bn_)((*down_conv_)(x), training) : x;
  Variable h = x;
  for (size_t i = 0; i + 1 < convs_.size(); ++i) h = (*bns_[i])((*convs_[i])(h), training, Variable(), true);
  return (*bns_.back())((*convs_.back())(h), training, shortcut, true);
}

ResNetBackbone::ResNetBackbone(ParameterStore& store, const ResNetSpec& spec, std::mt19937& rng) : spec_(spec) {
  conv1_ = std::make_unique<Conv2d>(store, "conv1.", 3, 64, 7, 2, 3, rng);
  bn1_ = std::make_unique<BatchNorm2d>(store, "bn1.", 64);
  const int expansion = spec.bottleneck ? 4 : 1;
  int in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const int planes = 64 << stage;
    for (int b = 0; b < spec.blocks[stage]; ++b) {
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      const std::string prefix = str_cat("layer", stage + 1, ".", b, ".");
      blocks_.push_back(std::make_unique<ResidualBlock>(store, prefix, spec.bottleneck, in, planes, stride, rng));
      in = planes * expansion;
    }
  }
}

Variable ResNetBackbone::forward(const Variable& x, bool training) {
  SGML_CHECK(x.value().ndim() == 4 && x.value().dim(1) == 3, "the model expects images (N,3,H,W), got ",
             shape_str(x.value().shape()));
  if (fused_inference(x, training)) {
    std::vector<ConvBnBlock> blocks;
    for (const auto& block : blocks_) blocks.push_back(block->inference_block());
    return Variable(resnet_inference(x.value(), stage(*conv1_, *bn1_), blocks));
  }
  Variable h = (*bn1_)((*conv1_)(x), training, Variable(), true);
  h = fn::max_pool2d(h, 3, 2, 1);
  for (auto& block : blocks_) h = block->forward(h, training);
  return fn::global_avg_pool(h);
}

}  // namespace sgml
