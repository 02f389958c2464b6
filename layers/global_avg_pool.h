// Global average pooling: (N, C, H, W) -> (N, C), the mean over each plane.
#pragma once
#include "engine/tensor.h"

namespace sgml {

Tensor global_avg_pool_forward(const Tensor& x /*(N,C,H,W)*/);                 // (N,C)
Tensor global_avg_pool_backward(const Tensor& dy /*(N,C)*/, const Shape& x_shape);  // (N,C,H,W)

namespace cpu {
void global_avg_pool_forward(float* y, const float* x, int planes, int hw);
void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw);
}  // namespace cpu
namespace cuda {
void global_avg_pool_forward(float* y, const float* x, int planes, int hw);
void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw);
}  // namespace cuda

}  // namespace sgml
