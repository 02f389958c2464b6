// Elementwise ops and the small reductions the layers need: ReLU, sigmoid, bias broadcast and column sums. The
// plain tensor arithmetic (add, add_inplace, scale_inplace) is engine/tensor_math.h, which this header includes.
#pragma once
#include "engine/tensor.h"
#include "engine/tensor_math.h"

namespace sgml {

Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& dy, const Tensor& y);  // dy where y > 0
Tensor sigmoid_forward(const Tensor& x);
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);  // dy * y * (1 - y)
void add_row_bias(Tensor& y /*(N,M)*/, const Tensor& bias /*(M)*/);  // y[i,:] += bias
Tensor sum_rows(const Tensor& x /*(N,M)*/);                            // (M): the sum over rows

// Twins (engine/dispatch.h describes the convention).
namespace cpu {
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void add_row_bias(float* y, const float* bias, int rows, int cols);
void sum_rows(float* out, const float* x, int rows, int cols);
}  // namespace cpu
namespace cuda {
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void add_row_bias(float* y, const float* bias, int rows, int cols);
void sum_rows(float* out, const float* x, int rows, int cols);
}  // namespace cuda

}  // namespace sgml
