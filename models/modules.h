// The building blocks of ResNet and the SGML head. Each registers its parameters and buffers in a ParameterStore
// under PyTorch's names (prefix + "weight", "bias", "running_mean", ...). Blocks are heap-allocated and never move,
// because the store keeps pointers to their buffers.
#pragma once
#include <random>
#include <string>

#include "engine/parameter_store.h"
#include "layers/functional.h"

namespace sgml {

// Conv without bias (as in every ResNet conv), initialised as torchvision does: kaiming normal, fan_out, ReLU gain.
struct Conv2d {
  Variable weight;  // (out, in, k, k)
  int stride = 1, pad = 0;
  Conv2d(ParameterStore& store, const std::string& prefix, int in, int out, int kernel, int stride, int pad,
         std::mt19937& rng);
  Variable operator()(const Variable& x) const { return fn::conv2d(x, weight, stride, pad); }
};

// BatchNorm2d with weight 1, bias 0, running mean 0, running var 1, momentum 0.1, eps 1e-5.
struct BatchNorm2d {
  Variable weight, bias;  // (C)
  fn::BatchNormBuffers buffers;
  BatchNorm2d(ParameterStore& store, const std::string& prefix, int channels);
  // relu?(bn(x) + residual?), fused (fn::batch_norm2d).
  Variable operator()(const Variable& x, bool training, const Variable& residual = Variable(), bool relu = false) {
    return fn::batch_norm2d(x, weight, bias, buffers, training, residual, relu);
  }
};

// nn.Linear with PyTorch's default initialisation: weight and bias uniform in ±1/sqrt(in).
struct Linear {
  Variable weight;  // (out, in)
  Variable bias;    // (out)
  Linear(ParameterStore& store, const std::string& prefix, int in, int out, std::mt19937& rng);
  Variable operator()(const Variable& x) const { return fn::linear(x, weight, bias); }
  // Re-draws the PyTorch default initialisation (used for a head absent from a backbone-only weights file).
  void reset(std::mt19937& rng);
};

}  // namespace sgml
