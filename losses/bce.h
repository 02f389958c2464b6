// Binary cross-entropy on attribute logits (paper Eq. 2), as torch.nn.BCEWithLogitsLoss with reduction 'mean':
// the mean over images and attributes of max(x, 0) - x t + log1p(e^-|x|), which is finite for any logit (a
// sigmoid followed by log would give log(0) at |x| ~ 100). One pass writes the value and dlogits.
// Eq. 2 sums over the K attributes of an image; this mean is that sum divided by K, so the objective's lambda is
// lambda / K in the paper's units (README, "Training defaults").
#pragma once
#include "engine/tensor.h"

namespace sgml {

struct BceResult {
  Tensor value;    // (1) on the logits' device: the mean loss
  Tensor dlogits;  // (N, K) grad_scale * (sigmoid(x) - t) / (N K)
};

// logits, targets: (N, K), targets in {0, 1} (any value in [0, 1] gives torch's soft-label loss as well).
// grad_scale multiplies the gradient (lambda of Eq. 1, or 0 where the loss only logs).
BceResult bce_with_logits(const Tensor& logits, const Tensor& targets, float grad_scale = 1.0f);

// Raw twins over n = N K elements.
namespace cpu {
void bce_with_logits(float* value, float* dlogits, const float* logits, const float* targets, int64_t n,
                     float grad_scale);
}  // namespace cpu
namespace cuda {
void bce_with_logits(float* value, float* dlogits, const float* logits, const float* targets, int64_t n,
                     float grad_scale);
}  // namespace cuda

}  // namespace sgml
