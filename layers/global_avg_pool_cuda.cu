// CUDA global average pooling: one warp per (n, c) plane, summed in double as the CPU twin; backward broadcasts.
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/global_avg_pool.h"

namespace sgml::cuda {

namespace {

// y (planes) = the mean of each plane of x (planes, hw). The plane loop is the same for all lanes of a warp, so the
// whole warp takes part in every shuffle.
__global__ void global_avg_pool_forward_kernel(float* y, const float* x, int planes, int hw) {
  const int lane = threadIdx.x & 31;
  for (int64_t p : warp_stride(planes)) {
    const float* in = x + p * hw;
    double sum = 0.0;
    for (int i = lane; i < hw; i += 32) sum += in[i];
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[p] = float(sum / hw);
  }
}

// dx (planes, hw) = dy (planes) / hw.
__global__ void global_avg_pool_backward_kernel(float* dx, const float* dy, int64_t total, int hw) {
  for (int64_t k : grid_stride(total)) dx[k] = dy[k / hw] / hw;
}

}  // namespace

void global_avg_pool_forward(float* y, const float* x, int planes, int hw) {
  if (planes <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  global_avg_pool_forward_kernel<<<blocks_for(int64_t(planes) * 32), kThreadsPerBlock, 0, stream>>>(y, x, planes, hw);
  SGML_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw) {
  const int64_t total = int64_t(planes) * hw;
  if (total <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  global_avg_pool_backward_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(dx, dy, total, hw);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
