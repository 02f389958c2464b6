// Row L2 normalisation as torch.nn.functional.normalize(x, dim=1, eps=1e-12): y = x / max(||x||, eps).
// Cosine similarity of embeddings is then a matrix product of normalised rows.
#pragma once
#include "engine/tensor.h"

namespace sgml {

constexpr float kL2NormalizeEps = 1e-12f;

struct L2NormalizeResult {
  Tensor y;      // (N,D) the normalised rows
  Tensor norms;  // (N) the clamped norms, kept for backward
};
L2NormalizeResult l2_normalize_forward(const Tensor& x /*(N,D)*/);
// dx = (dy - y * <y, dy>) / norm for rows whose norm exceeds eps; dy / eps otherwise (the clamp is constant).
Tensor l2_normalize_backward(const Tensor& dy, const Tensor& y, const Tensor& norms);

// Twins (engine/dispatch.h describes the convention).
namespace cpu {
void l2_normalize_forward(float* y, float* norms, const float* x, int rows, int cols);
void l2_normalize_backward(float* dx, const float* dy, const float* y, const float* norms, int rows, int cols);
}  // namespace cpu
namespace cuda {
void l2_normalize_forward(float* y, float* norms, const float* x, int rows, int cols);
void l2_normalize_backward(float* dx, const float* dy, const float* y, const float* norms, int rows, int cols);
}  // namespace cuda

}  // namespace sgml
