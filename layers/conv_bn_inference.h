// A ResNet stem or residual block in inference on the CPU: a chain of convolutions, each followed by batch norm with
// its running statistics and ReLU, the last one adding a shortcut before its ReLU:
//   h_0 = x;  h_i = relu(bn_i(conv_i(h_(i-1))) [+ shortcut, for the last i]);  y = h_n
//   shortcut: none (the stem), x itself (identity), or bn_d(conv_d(x)) (the downsample of a block's first conv).
// The same function as the ops one by one (fn::conv2d, fn::batch_norm2d with residual and relu), computed in one
// oneDNN call per convolution: each batch norm is folded into its convolution (weights scaled per output channel
// while they are reordered anyway, its shift as the bias), the shortcut and the ReLU run as the convolution's
// post-ops, and the activations stay in oneDNN's blocked layout from one convolution of the chain to the next, so
// only the chain's input and output are reordered from and to our NCHW tensors (the op-by-op path reorders around
// every convolution and runs batch norm as a pass of its own). Folding rounds differently from the op-by-op path
// (a few float32 ulps per layer). For evaluation and feature extraction (no tape); training keeps the ops.
// resnet_inference chains the chains: the whole backbone with its pooling, blocked throughout (the model's path);
// conv_bn_chain_inference is one chain on its own, NCHW in and out.
#pragma once
#include <vector>

#include "engine/tensor.h"
#include "layers/conv2d.h"

namespace sgml {

// One convolution (no bias, as in ResNet) and the batch norm after it, in inference.
struct ConvBnStage {
  const Tensor* weight;  // (K,C,R,S)
  int stride, pad;
  const Tensor *gamma, *beta, *running_mean, *running_var;  // (K) each
  float eps;
};

enum class Shortcut { None, Identity, Downsample };

// x (N,C,H,W) on the CPU -> (N,K_last,P,Q). `downsample` is read only for Shortcut::Downsample.
Tensor conv_bn_chain_inference(const Tensor& x, const std::vector<ConvBnStage>& chain, Shortcut shortcut,
                               const ConvBnStage* downsample = nullptr);

// A residual block as a chain (its shortcut adds before the last ReLU).
struct ConvBnBlock {
  std::vector<ConvBnStage> chain;
  Shortcut shortcut = Shortcut::Identity;
  ConvBnStage downsample{};  // read only for Shortcut::Downsample
};

// A whole ResNet backbone in inference on the CPU, x (N,3,H,W) -> pooled features (N,C_last): the stem chain, max
// pooling 3x3 stride 2 pad 1, the blocks' chains, global average pooling. The activations stay in oneDNN's blocked
// layout from the stem's output to the pooled one, so no block reorders its input or output (the chains alone do
// at their two ends).
Tensor resnet_inference(const Tensor& x, const ConvBnStage& stem, const std::vector<ConvBnBlock>& blocks);

namespace cpu {
// A stage with its batch norm folded: y = conv(x, w) * scale + shift per output channel.
struct FoldedConvStage {
  const float* w;  // (K,C,R,S), unscaled
  Conv2dGeometry g;
  std::vector<float> scale, shift;  // (K) each
};
// y (N,K_last,P,Q) NCHW; x (N,C,H,W) NCHW. ReLU after every stage; the shortcut as above.
void conv_bn_chain_inference(float* y, const float* x, const std::vector<FoldedConvStage>& chain, Shortcut shortcut,
                             const FoldedConvStage* downsample);
struct FoldedBlock {
  std::vector<FoldedConvStage> chain;
  Shortcut shortcut;
  FoldedConvStage downsample;
};
// y (N,C_last); x (N,3,H,W) NCHW.
void resnet_inference(float* y, const float* x, const FoldedConvStage& stem, const std::vector<FoldedBlock>& blocks);
}  // namespace cpu

}  // namespace sgml
