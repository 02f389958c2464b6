// Differentiable ops: each runs the forward kernel and records on the tape a closure that keeps only what its
// backward needs. Gradients are computed only for inputs that require them (the image batch never does).
#pragma once
#include "engine/variable.h"

namespace sgml::fn {

Variable conv2d(const Variable& x /*(N,C,H,W)*/, const Variable& w /*(K,C,R,S)*/, int stride, int pad);

// BatchNorm2d's buffers, named as in PyTorch's state_dict (running_mean, running_var, num_batches_tracked).
struct BatchNormBuffers {
  Tensor running_mean;         // (C)
  Tensor running_var;          // (C)
  Tensor num_batches_tracked;  // I64 scalar, on the CPU
  float momentum = 0.1f;
  float eps = 1e-5f;
};
// Training: batch statistics, running statistics updated (not part of the gradient). Eval: running statistics.
// y = relu?(bn(x) + residual?) in one pass over the activation (residual undefined: none), as ResNet ends a block.
Variable batch_norm2d(const Variable& x, const Variable& gamma, const Variable& beta, BatchNormBuffers& buffers,
                      bool training, const Variable& residual = Variable(), bool relu = false);

Variable relu(const Variable& x);
Variable sigmoid(const Variable& x);
Variable max_pool2d(const Variable& x, int kernel, int stride, int pad);
Variable global_avg_pool(const Variable& x /*(N,C,H,W)*/);  // (N,C)
// y (N,Out) = x (N,In) · wᵀ (In,Out) + b (Out); b may be undefined.
Variable linear(const Variable& x, const Variable& w /*(Out,In)*/, const Variable& b);
Variable add(const Variable& a, const Variable& b);
// y (N,D) = x[i,j] * v[j], v of D values (e.g. (1,D)); dv keeps v's shape.
Variable scale_columns(const Variable& x /*(N,D)*/, const Variable& v /*(D)*/);
Variable l2_normalize(const Variable& x /*(N,D)*/);  // rows scaled to unit L2 norm
// layers/dropout.h: the mask of (seed, element) on forward, the same mask on dy on backward.
Variable dropout(const Variable& x, float p, uint64_t seed);
// op(A) · op(B) (e.g. cosine similarities En · Enᵀ of normalised embeddings).
Variable matmul(const Variable& a, bool transpose_a, const Variable& b, bool transpose_b);

}  // namespace sgml::fn
