// 2-D convolution without bias (as every ResNet conv): cross-correlation, square stride and zero padding.
// CPU: oneDNN in the blocked layouts it chooses, operands reordered from and to NCHW around each call. CUDA: cuDNN,
// algorithms ranked once per shape, the next one tried if one fails.
#pragma once
#include "engine/tensor.h"

namespace sgml {

struct Conv2dGeometry {
  int n, c, h, w;  // input (N, C, H, W)
  int k, r, s;     // filter (K, C, R, S)
  int stride, pad;
  int p() const { return (h + 2 * pad - r) / stride + 1; }  // output height
  int q() const { return (w + 2 * pad - s) / stride + 1; }  // output width
};

// Checks shapes and returns the geometry of x (N,C,H,W) convolved with w (K,C,R,S).
Conv2dGeometry conv2d_geometry(const Shape& x_shape, const Shape& w_shape, int stride, int pad);

Tensor conv2d_forward(const Tensor& x /*(N,C,H,W)*/, const Tensor& w /*(K,C,R,S)*/, int stride, int pad);  // (N,K,P,Q)
Tensor conv2d_backward_data(const Tensor& dy /*(N,K,P,Q)*/, const Tensor& w, const Shape& x_shape, int stride,
                            int pad);  // dx (N,C,H,W)
Tensor conv2d_backward_filter(const Tensor& dy /*(N,K,P,Q)*/, const Tensor& x, const Shape& w_shape, int stride,
                              int pad);  // dw (K,C,R,S)
// The same into a given gradient: stored (accumulate false) or added to its values (true), in the convolution's own
// pass (cuDNN's beta = 1; on the CPU, the reorder out of oneDNN's layout adds). The tape sums a fan-in this way
// (a block input's two gradients, a parameter's flat gradient buffer) without a temporary and a separate add.
void conv2d_backward_data_into(Tensor& dx /*(N,C,H,W)*/, const Tensor& dy, const Tensor& w, int stride, int pad,
                               bool accumulate);
void conv2d_backward_filter_into(Tensor& dw /*(K,C,R,S)*/, const Tensor& dy, const Tensor& x, int stride, int pad,
                                 bool accumulate);

// Twins (engine/dispatch.h describes the convention).
// The backward passes overwrite their output (accumulate false) or add into it (true).
namespace cpu {
void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g);
void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g, bool accumulate);
void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g, bool accumulate);
}  // namespace cpu
namespace cuda {
void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g);
void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g, bool accumulate);
void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g, bool accumulate);
// For tests: the next `n` algorithm attempts fail as if cuDNN had refused them, so that the fallback to the next
// ranked algorithm can be exercised on any GPU. 0 turns it off.
void conv2d_fail_next_attempts_for_testing(int n);
}  // namespace cuda

}  // namespace sgml
