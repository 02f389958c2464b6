// The fused inference chain (layers/conv_bn_inference.h) against the ops one by one (fn::conv2d, then
// fn::batch_norm2d in eval with its residual and ReLU), which tests/test_ops_torch.cpp checks against PyTorch; the
// ResNet parity tests check the fused path against torchvision directly. Random batch-norm statistics and affine
// parameters, so that no batch norm is the identity; channel counts on and off oneDNN's blocks of 16.
#include <gtest/gtest.h>

#include "engine/check.h"
#include "engine/variable.h"
#include "layers/conv_bn_inference.h"
#include "layers/functional.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

struct StageTensors {
  Tensor weight, gamma, beta;
  fn::BatchNormBuffers buffers;
  int stride, pad;
  StageTensors(int in, int out, int kernel, int stride_, int pad_, unsigned seed) : stride(stride_), pad(pad_) {
    weight = test::random_tensor({out, in, kernel, kernel}, seed, -0.3f, 0.3f);
    gamma = test::random_tensor({out}, seed + 1, 0.5f, 1.5f);
    beta = test::random_tensor({out}, seed + 2, -0.2f, 0.2f);
    buffers.running_mean = test::random_tensor({out}, seed + 3, -0.2f, 0.2f);
    buffers.running_var = test::random_tensor({out}, seed + 4, 0.5f, 1.5f);
    buffers.num_batches_tracked = Tensor::zeros({}, Device::cpu(), DType::I64);
  }
  ConvBnStage stage() const {
    return {&weight, stride, pad, &gamma, &beta, &buffers.running_mean, &buffers.running_var, buffers.eps};
  }
  // The ops one by one: relu?(bn(conv(x)) + residual?).
  Tensor ops(const Tensor& x, const Tensor& residual, bool relu) {
    Variable y = fn::conv2d(Variable(x), Variable(weight), stride, pad);
    return fn::batch_norm2d(y, Variable(gamma), Variable(beta), buffers, /*training=*/false,
                            residual.defined() ? Variable(residual) : Variable(), relu)
        .value();
  }
};

// A chain of stages `dims` (in, out, kernel, stride, pad) on x, with the shortcut, fused and op by op.
void expect_same_as_ops(const Shape& x_shape, std::vector<StageTensors> chain, Shortcut shortcut,
                        StageTensors* down = nullptr) {
  NoGradGuard no_grad;
  const Tensor x = test::random_tensor(x_shape, 7, -1.0f, 1.0f);
  std::vector<ConvBnStage> stages;
  for (const StageTensors& s : chain) stages.push_back(s.stage());
  const ConvBnStage down_stage = down ? down->stage() : ConvBnStage{};
  const Tensor fused = conv_bn_chain_inference(x, stages, shortcut, down ? &down_stage : nullptr);
  const Tensor x_before = x.clone();
  Tensor shortcut_value = shortcut == Shortcut::Identity ? x : Tensor();
  if (shortcut == Shortcut::Downsample) shortcut_value = down->ops(x, Tensor(), false);
  Tensor h = x;
  for (size_t i = 0; i < chain.size(); ++i)
    h = chain[i].ops(h, i + 1 == chain.size() ? shortcut_value : Tensor(), true);
  ASSERT_EQ(fused.shape(), h.shape());
  EXPECT_LT(test::relative_error(fused, h), 1e-6);
  EXPECT_EQ(x.to_vector(), x_before.to_vector()) << "the input must not change (the identity shortcut reads it)";
}

TEST(ConvBnInference, StemAsOneStage) {
  expect_same_as_ops({2, 3, 23, 19}, {StageTensors(3, 16, 7, 2, 3, 10)}, Shortcut::None);
}

TEST(ConvBnInference, BottleneckWithIdentity) {
  expect_same_as_ops(
      {2, 64, 9, 9},
      {StageTensors(64, 16, 1, 1, 0, 20), StageTensors(16, 16, 3, 1, 1, 30), StageTensors(16, 64, 1, 1, 0, 40)},
      Shortcut::Identity);
}

TEST(ConvBnInference, BottleneckWithStridedDownsample) {
  StageTensors down(32, 64, 1, 2, 0, 90);
  expect_same_as_ops(
      {1, 32, 11, 11},
      {StageTensors(32, 16, 1, 1, 0, 50), StageTensors(16, 16, 3, 2, 1, 60), StageTensors(16, 64, 1, 1, 0, 70)},
      Shortcut::Downsample, &down);
}

TEST(ConvBnInference, ChannelsOffTheBlocksOf16) {
  StageTensors down(5, 12, 1, 1, 0, 130);
  expect_same_as_ops({3, 5, 8, 7}, {StageTensors(5, 7, 3, 1, 1, 110), StageTensors(7, 12, 3, 1, 1, 120)},
                     Shortcut::Downsample, &down);
  expect_same_as_ops({3, 6, 8, 7}, {StageTensors(6, 9, 3, 1, 1, 140), StageTensors(9, 6, 3, 1, 1, 150)},
                     Shortcut::Identity);
}

// A small ResNet in one call (resnet_inference: blocked activations from the stem to the pooled features) against the
// ops one by one: stem, max pool 3x3/2/1, an identity block, a strided block with a downsample, a block off the
// blocks of 16, global average pool. Odd input sizes, so that the pooling windows meet the padding.
TEST(ConvBnInference, WholeResNetInOneCall) {
  NoGradGuard no_grad;
  const Tensor x = test::random_tensor({2, 3, 29, 23}, 9, -1.0f, 1.0f);
  StageTensors stem(3, 16, 7, 2, 3, 300);
  std::vector<std::vector<StageTensors>> chains = {
      {StageTensors(16, 16, 3, 1, 1, 310), StageTensors(16, 16, 3, 1, 1, 320)},
      {StageTensors(16, 8, 1, 1, 0, 330), StageTensors(8, 8, 3, 2, 1, 340), StageTensors(8, 32, 1, 1, 0, 350)},
      {StageTensors(32, 12, 3, 1, 1, 360), StageTensors(12, 24, 3, 1, 1, 370)}};
  StageTensors down1(16, 32, 1, 2, 0, 380), down2(32, 24, 1, 1, 0, 390);
  std::vector<ConvBnBlock> blocks(3);
  for (size_t b = 0; b < 3; ++b)
    for (const StageTensors& s : chains[b]) blocks[b].chain.push_back(s.stage());
  blocks[1].shortcut = blocks[2].shortcut = Shortcut::Downsample;
  blocks[1].downsample = down1.stage();
  blocks[2].downsample = down2.stage();
  const Tensor fused = resnet_inference(x, stem.stage(), blocks);

  Tensor h = fn::max_pool2d(Variable(stem.ops(x, Tensor(), true)), 3, 2, 1).value();
  for (size_t b = 0; b < 3; ++b) {
    const Tensor shortcut = b == 0 ? h : (b == 1 ? down1 : down2).ops(h, Tensor(), false);
    for (size_t i = 0; i < chains[b].size(); ++i)
      h = chains[b][i].ops(h, i + 1 == chains[b].size() ? shortcut : Tensor(), true);
  }
  const Tensor pooled = fn::global_avg_pool(Variable(h)).value();
  ASSERT_EQ(fused.shape(), pooled.shape());
  EXPECT_EQ(fused.shape(), (Shape{2, 24}));
  EXPECT_LT(test::relative_error(fused, pooled), 1e-6);
  const StageTensors narrow(8, 8, 1, 1, 0, 400);
  blocks[1].chain.front() = narrow.stage();
  EXPECT_NE(test::error_of([&] { resnet_inference(x, stem.stage(), blocks); }).find("16"), std::string::npos)
      << "a block whose input does not fit: 16 channels for a convolution of 8";
}

TEST(ConvBnInference, RefusesWhatDoesNotChain) {
  NoGradGuard no_grad;
  const Tensor x = test::random_tensor({1, 16, 6, 6}, 3);
  StageTensors grows(16, 32, 1, 1, 0, 200), wrong_input(8, 16, 1, 1, 0, 210);
  EXPECT_THROW(conv_bn_chain_inference(x, {grows.stage()}, Shortcut::Identity), Error);
  EXPECT_THROW(conv_bn_chain_inference(x, {wrong_input.stage()}, Shortcut::None), Error);
  EXPECT_THROW(conv_bn_chain_inference(x, {grows.stage()}, Shortcut::Downsample), Error);
  EXPECT_THROW(conv_bn_chain_inference(x, {}, Shortcut::None), Error);
  StageTensors short_bn(16, 16, 1, 1, 0, 220);
  short_bn.gamma = Tensor::full({15}, 1.0f);
  EXPECT_THROW(conv_bn_chain_inference(x, {short_bn.stage()}, Shortcut::None), Error);
}

}  // namespace
