// Batch normalisation over (N, H, W) per channel, exactly as PyTorch's BatchNorm2d:
// training normalises with the batch mean and biased variance and updates
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1),   M = N*H*W (unbiased)
// inference normalises with the running statistics. Frozen batch norm (fine-tuning with fixed statistics, as Divide
// & Conquer does) is the inference forward inside a training step; its backward holds the statistics fixed:
//   dx = gamma / sqrt(running_var + eps) * dy,  dgamma = sum dy * xhat,  dbeta = sum dy,
// as PyTorch's backward through a BatchNorm2d in eval mode.
//
// Both forwards can finish ResNet's pattern in the same pass: y = relu(bn(x) + residual), with the residual and the
// ReLU each optional (the epilogue). Reading x once and writing y once, instead of BN, add and ReLU each reading and
// writing the whole activation, is what makes this worth a parameter: these passes are memory-bound. Without a
// residual, the backward applies the ReLU's mask itself (relu_beta): it recomputes bn(x) from x, which it reads
// anyway, so the mask costs no pass. With a residual the caller masks dy by y (relu_backward), since the
// residual needs that gradient too.
// y = x * scale + shift per channel is a rounded product then a rounded sum on both devices (no fused multiply-add),
// so the CPU and CUDA twins compute the same y and the same mask.
#pragma once
#include "engine/tensor.h"

namespace sgml {

struct BatchNormShape {
  int n, c, hw;  // x viewed as (N, C, H*W)
};

// What the forward adds and applies after normalising; the twins take raw pointers.
struct BatchNormEpilogue {
  const float* residual = nullptr;  // (N,C,H,W) added to bn(x), or none
  bool relu = false;                // max(0, .) after the residual
};

struct BatchNormTrainResult {
  Tensor y;            // (N,C,H,W)
  Tensor save_mean;    // (C) the batch mean, for backward
  Tensor save_invstd;  // (C) 1 / sqrt(biased batch variance + eps), for backward
};
struct BatchNormGrads {
  Tensor dx;              // (N,C,H,W)
  Tensor dgamma, dbeta;  // (C)
};

// Training forward over x (N,C,H,W); running_mean and running_var (C) are updated in place. residual: (N,C,H,W) on
// x's device, or undefined for none.
BatchNormTrainResult batch_norm2d_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                Tensor& running_mean, Tensor& running_var, float momentum, float eps,
                                                const Tensor& residual = Tensor(), bool relu = false);
// Inference forward with the running statistics: y (N,C,H,W).
Tensor batch_norm2d_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, const Tensor& residual = Tensor(),
                                 bool relu = false);
// Backward of the training forward. relu_beta: the forward's beta when it ended in a ReLU without residual (dy is
// then masked where bn(x) <= 0), or undefined.
BatchNormGrads batch_norm2d_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                     const Tensor& save_invstd, const Tensor& relu_beta = Tensor());
// Backward of the inference forward (frozen statistics); relu_beta as above.
BatchNormGrads batch_norm2d_backward_frozen(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                            const Tensor& running_mean, const Tensor& running_var, float eps,
                                            const Tensor& relu_beta = Tensor());

// Twins (engine/dispatch.h describes the convention).
namespace cpu {
void batch_norm2d_forward_train(float* y, float* save_mean, float* save_invstd, const float* x, const float* gamma,
                                const float* beta, float* running_mean, float* running_var, float momentum, float eps,
                                const BatchNormShape& s, const BatchNormEpilogue& e);
void batch_norm2d_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               const BatchNormShape& s, const BatchNormEpilogue& e);
void batch_norm2d_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           const float* relu_beta, const BatchNormShape& s);
void batch_norm2d_backward_frozen(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* gamma, const float* running_mean, const float* running_var, float eps,
                                  const float* relu_beta, const BatchNormShape& s);
}  // namespace cpu
namespace cuda {
void batch_norm2d_forward_train(float* y, float* save_mean, float* save_invstd, const float* x, const float* gamma,
                                const float* beta, float* running_mean, float* running_var, float momentum, float eps,
                                const BatchNormShape& s, const BatchNormEpilogue& e);
void batch_norm2d_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               const BatchNormShape& s, const BatchNormEpilogue& e);
void batch_norm2d_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           const float* relu_beta, const BatchNormShape& s);
void batch_norm2d_backward_frozen(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* gamma, const float* running_mean, const float* running_var, float eps,
                                  const float* relu_beta, const BatchNormShape& s);
}  // namespace cuda

}  // namespace sgml
