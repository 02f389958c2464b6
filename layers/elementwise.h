// Elementwise ops and the small reductions the layers need: ReLU, sigmoid, bias broadcast, column scales and sums. The
// plain tensor arithmetic (add, add_inplace, scale_inplace) is engine/tensor_math.h, which this header includes.
#pragma once
#include "engine/tensor.h"
#include "engine/tensor_math.h"

namespace sgml {

// PyTorch's ReLU at the edges too: relu(NaN) = NaN (a diverging run stays visibly NaN), relu(-0) = -0, and the
// gradient passes where y is NaN (torch's threshold_backward: 0 where y <= 0, else dy).
Tensor relu_forward(const Tensor& x);
Tensor relu_backward(const Tensor& dy, const Tensor& y);  // 0 where y <= 0, else dy
Tensor sigmoid_forward(const Tensor& x);
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);  // dy * y * (1 - y)
void add_row_bias(Tensor& y /*(N,M)*/, const Tensor& bias /*(M)*/);  // y[i,:] += bias
Tensor sum_rows(const Tensor& x /*(N,M)*/);                            // (M): the sum over rows
// y (N,M) = x[i,j] * v[j]: each column scaled by its entry of v (M values, any shape). Divide & Conquer's learned
// masks weight the embedding's dimensions this way.
Tensor scale_columns(const Tensor& x /*(N,M)*/, const Tensor& v /*(M)*/);
// (M): sum over rows of a[i,j] * b[i,j], in row order (the scale's gradient: column_dots(dy, x)).
Tensor column_dots(const Tensor& a /*(N,M)*/, const Tensor& b /*(N,M)*/);

// Twins (engine/dispatch.h describes the convention).
namespace cpu {
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void add_row_bias(float* y, const float* bias, int rows, int cols);
void sum_rows(float* out, const float* x, int rows, int cols);
void scale_columns(float* y, const float* x, const float* v, int rows, int cols);
void column_dots(float* out, const float* a, const float* b, int rows, int cols);
}  // namespace cpu
namespace cuda {
void relu_forward(float* y, const float* x, int64_t n);
void relu_backward(float* dx, const float* dy, const float* y, int64_t n);
void sigmoid_forward(float* y, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n);
void add_row_bias(float* y, const float* bias, int rows, int cols);
void sum_rows(float* out, const float* x, int rows, int cols);
void scale_columns(float* y, const float* x, const float* v, int rows, int cols);
void column_dots(float* out, const float* a, const float* b, int rows, int cols);
}  // namespace cuda

}  // namespace sgml
