#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/dropout.h"
#include "layers/dropout_mask.h"

namespace sgml::cuda {

namespace {

__global__ void dropout_kernel(float* y, const float* x, int64_t n, uint32_t threshold, float scale, uint64_t seed) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = dropout_keeps(seed, i, threshold) ? x[i] * scale : 0.0f;
}

}  // namespace

void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed) {
  if (n == 0) return;
  const int blocks = static_cast<int>((n + kThreadsPerBlock - 1) / kThreadsPerBlock);
  dropout_kernel<<<blocks, kThreadsPerBlock, 0, CudaContext::current().stream()>>>(
      y, x, n, dropout_threshold(p), 1.0f / (1.0f - p), seed);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
