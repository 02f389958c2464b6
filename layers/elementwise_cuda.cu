// CUDA elementwise ops: grid-stride loops with 64-bit indices, the CPU twin's formulas. sum_rows is one thread per
// column adding its rows in order, so it is deterministic and equals the CPU's sums bit for bit.
#include <cmath>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/cuda_vectors.cuh"
#include "layers/elementwise.h"

namespace sgml::cuda {

namespace {

__global__ void relu_forward_kernel(float* y, const float* x, int64_t n) {
  for (int64_t k : grid_stride(n)) y[k] = x[k] < 0.0f ? 0.0f : x[k];  // the CPU twin's NaN and -0
}

// dx = 0 where y <= 0, else dy (NaN passes), over `vectors` vectors of V floats (engine/cuda_vectors.cuh). A
// memory-bound pass at every ResNet block end that has a shortcut (the masked gradient goes to both branches).
template <int V>
__global__ void relu_backward_kernel(float* dx, const float* dy, const float* y, int64_t vectors) {
  for (int64_t k : grid_stride(vectors)) {
    const Vec<V> g = Vec<V>::load(dy + k * V), v = Vec<V>::load(y + k * V);
    Vec<V> out;
#pragma unroll
    for (int i = 0; i < V; ++i) out.v[i] = v.v[i] <= 0.0f ? 0.0f : g.v[i];
    out.store(dx + k * V);
  }
}

// exp of a non-positive argument only, so large |x| neither overflows nor loses the small side.
__global__ void sigmoid_forward_kernel(float* y, const float* x, int64_t n) {
  for (int64_t k : grid_stride(n)) {
    const float e = expf(-fabsf(x[k]));
    y[k] = x[k] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

// dx = dy * y * (1 - y).
__global__ void sigmoid_backward_kernel(float* dx, const float* dy, const float* y, int64_t n) {
  for (int64_t k : grid_stride(n)) dx[k] = dy[k] * y[k] * (1.0f - y[k]);
}

// y (rows, cols) += bias (cols) on every row.
__global__ void add_row_bias_kernel(float* y, const float* bias, int64_t total, int cols) {
  for (int64_t k : grid_stride(total)) y[k] += bias[k % cols];
}

// out (cols) = the sum over rows of x (rows, cols); adjacent threads read adjacent columns (coalesced).
__global__ void sum_rows_kernel(float* out, const float* x, int rows, int cols) {
  for (int64_t c : grid_stride(cols)) {
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += x[int64_t(r) * cols + c];
    out[c] = sum;
  }
}

// y (rows, cols) = x scaled column by column by v (cols).
__global__ void scale_columns_kernel(float* y, const float* x, const float* v, int64_t total, int cols) {
  for (int64_t k : grid_stride(total)) y[k] = x[k] * v[k % cols];
}

// out (cols) = the sum over rows of a * b, one thread per column in row order as sum_rows; each product rounded on
// its own (__fmul_rn keeps the compiler from fusing it into the sum), as the CPU twin rounds it.
__global__ void column_dots_kernel(float* out, const float* a, const float* b, int rows, int cols) {
  for (int64_t c : grid_stride(cols)) {
    float sum = 0.0f;
    for (int r = 0; r < rows; ++r) sum += __fmul_rn(a[int64_t(r) * cols + c], b[int64_t(r) * cols + c]);
    out[c] = sum;
  }
}

}  // namespace

// Each launcher: nothing to do for no elements, then one grid-stride launch on the current device's stream.
void relu_forward(float* y, const float* x, int64_t n) {
  if (n <= 0) return;
  relu_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(y, x, n);
  SGML_CUDA_CHECK_LAUNCH();
}

// float4 over the aligned body, then the last n % 4 values one by one; all of it one by one when a pointer is not
// 16-byte aligned.
void relu_backward(float* dx, const float* dy, const float* y, int64_t n) {
  if (n <= 0) return;
  const cudaStream_t stream = CudaContext::current().stream();
  const int64_t body = aligned16(dx) && aligned16(dy) && aligned16(y) ? n / 4 * 4 : 0;
  if (body > 0) {
    relu_backward_kernel<4><<<blocks_for(body / 4), kThreadsPerBlock, 0, stream>>>(dx, dy, y, body / 4);
    SGML_CUDA_CHECK_LAUNCH();
  }
  if (n > body) {
    relu_backward_kernel<1><<<blocks_for(n - body), kThreadsPerBlock, 0, stream>>>(dx + body, dy + body, y + body,
                                                                                   n - body);
    SGML_CUDA_CHECK_LAUNCH();
  }
}

void sigmoid_forward(float* y, const float* x, int64_t n) {
  if (n <= 0) return;
  sigmoid_forward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(y, x, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void sigmoid_backward(float* dx, const float* dy, const float* y, int64_t n) {
  if (n <= 0) return;
  sigmoid_backward_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(dx, dy, y, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void add_row_bias(float* y, const float* bias, int rows, int cols) {
  const int64_t total = int64_t(rows) * cols;
  if (total <= 0) return;
  add_row_bias_kernel<<<blocks_for(total), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(y, bias, total,
                                                                                                 cols);
  SGML_CUDA_CHECK_LAUNCH();
}

void sum_rows(float* out, const float* x, int rows, int cols) {
  if (cols <= 0) return;
  sum_rows_kernel<<<blocks_for(cols), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(out, x, rows, cols);
  SGML_CUDA_CHECK_LAUNCH();
}

void scale_columns(float* y, const float* x, const float* v, int rows, int cols) {
  const int64_t total = int64_t(rows) * cols;
  if (total <= 0) return;
  scale_columns_kernel<<<blocks_for(total), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(y, x, v, total,
                                                                                                   cols);
  SGML_CUDA_CHECK_LAUNCH();
}

void column_dots(float* out, const float* a, const float* b, int rows, int cols) {
  if (cols <= 0) return;
  column_dots_kernel<<<blocks_for(cols), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(out, a, b, rows,
                                                                                                cols);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
