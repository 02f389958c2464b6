// Elementwise ops and the small reductions the layers need: add, accumulate, scale, ReLU, sigmoid, bias
// broadcast and column sums.
#pragma once
#include "engine/tensor.h"

namespace sgml {

Tensor add(const Tensor& a, const Tensor& b);   // a + b, same shape
void add_inplace(Tensor& a, const Tensor& b);   // a += b (gradient accumulation at fan-in)
void scale_inplace(Tensor& a, float alpha);     // a *= alpha
Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& dy, const Tensor& y);  // dy where y > 0
Tensor sigmoid_forward(const Tensor& x);
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);  // dy * y * (1 - y)
void add_row_bias(Tensor& y /*(N,M)*/, const Tensor& bias /*(M)*/);  // y[i,:] += bias
Tensor sum_rows(const Tensor& x /*(N,M)*/);                            // (M): the sum over rows

namespace cpu {
void add(float* y, const float* a, const float* b, int64_t n);
void add_inplace(float* a, const float* b, int64_t n);
void scale_inplace(float* a, float alpha, int64_t n);
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void add_row_bias(float* y, const float* bias, int rows, int cols);
void sum_rows(float* out, const float* x, int rows, int cols);
}  // namespace cpu
namespace cuda {
void add(float* y, const float* a, const float* b, int64_t n, int device);
void add_inplace(float* a, const float* b, int64_t n, int device);
void scale_inplace(float* a, float alpha, int64_t n, int device);
void relu_forward(float* y, const float* x, int64_t n, int device);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n, int device);
void sigmoid_forward(float* y, const float* x, int64_t n, int device);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n, int device);
void add_row_bias(float* y, const float* bias, int rows, int cols, int device);
void sum_rows(float* out, const float* x, int rows, int cols, int device);
}  // namespace cuda

}  // namespace sgml
