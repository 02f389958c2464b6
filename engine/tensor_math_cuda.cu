// CUDA tensor arithmetic: grid-stride loops with 64-bit indices, the CPU twin's formulas.
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/tensor_math.h"

namespace sgml::cuda {

namespace {

__global__ void add_kernel(float* y, const float* a, const float* b, int64_t n) {
  for (int64_t i : grid_stride(n)) y[i] = a[i] + b[i];
}

__global__ void add_inplace_kernel(float* a, const float* b, int64_t n) {
  for (int64_t i : grid_stride(n)) a[i] += b[i];
}

__global__ void scale_inplace_kernel(float* a, float alpha, int64_t n) {
  for (int64_t i : grid_stride(n)) a[i] *= alpha;
}

}  // namespace

// Each launcher: nothing to do for no elements, then one grid-stride launch on the current device's stream.
void add(float* y, const float* a, const float* b, int64_t n) {
  if (n <= 0) return;
  add_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(y, a, b, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void add_inplace(float* a, const float* b, int64_t n) {
  if (n <= 0) return;
  add_inplace_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(a, b, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void scale_inplace(float* a, float alpha, int64_t n) {
  if (n <= 0) return;
  scale_inplace_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(a, alpha, n);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
