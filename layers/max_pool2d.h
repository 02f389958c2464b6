// Max pooling with a square window (ResNet: 3x3, stride 2, padding 1; padding never wins, as in PyTorch).
// Forward records the flat input index (within its (n, c) plane) of each maximum; the first maximum wins on ties,
// as in PyTorch. Backward gathers per input element (no atomics), so it is deterministic.
#pragma once
#include "engine/tensor.h"

namespace sgml {

struct Pool2dGeometry {
  int n, c, h, w;
  int kernel, stride, pad;
  int p() const { return (h + 2 * pad - kernel) / stride + 1; }
  int q() const { return (w + 2 * pad - kernel) / stride + 1; }
};

struct MaxPool2dResult {
  Tensor y;       // (N,C,P,Q)
  Tensor argmax;  // (N,C,P,Q) int32: the flat index of each maximum within its (n, c) plane, kept for backward
};
MaxPool2dResult max_pool2d_forward(const Tensor& x /*(N,C,H,W)*/, int kernel, int stride, int pad);
Tensor max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Shape& x_shape, int kernel, int stride,
                           int pad);  // dx (N,C,H,W)

// Twins (engine/dispatch.h describes the convention).
namespace cpu {
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dGeometry& g);
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dGeometry& g);
}  // namespace cpu
namespace cuda {
void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dGeometry& g);
void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dGeometry& g);
}  // namespace cuda

}  // namespace sgml
