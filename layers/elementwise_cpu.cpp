#include <cmath>

#include "layers/elementwise.h"

namespace sgml::cpu {

void relu_forward(float* y, const float* x, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];  // NaN and -0 pass
}

void relu_backward(float* dx, const float* dy, const float* y, int64_t n) {
  // dy is loaded whether used or not, so the loop is a vector select instead of a branch on each sign (measured: 92
  // ms of a 1.4 s ResNet-50 step at 224 px as a branch, where PyTorch's threshold_backward took 27).
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i];
    dx[i] = y[i] <= 0.0f ? 0.0f : g;  // NaN passes dy
  }
}

void sigmoid_forward(float* y, const float* x, int64_t n) {
  // exp of a non-positive argument only, so large |x| neither overflows nor loses the small side.
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float e = std::exp(-std::fabs(x[i]));
    y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void add_row_bias(float* y, const float* bias, int rows, int cols) {
#pragma omp parallel for if (int64_t(rows) * cols > 65536)
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) y[int64_t(r) * cols + c] += bias[c];
}

void sum_rows(float* out, const float* x, int rows, int cols) {
  for (int c = 0; c < cols; ++c) out[c] = 0.0f;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) out[c] += x[int64_t(r) * cols + c];
}

void scale_columns(float* y, const float* x, const float* v, int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) y[int64_t(r) * cols + c] = x[int64_t(r) * cols + c] * v[c];
}

void column_dots(float* out, const float* a, const float* b, int rows, int cols) {
  for (int c = 0; c < cols; ++c) out[c] = 0.0f;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float product = a[int64_t(r) * cols + c] * b[int64_t(r) * cols + c];
      out[c] += product;  // rounded before the sum, as the CUDA twin's __fmul_rn
    }
}

}  // namespace sgml::cpu
