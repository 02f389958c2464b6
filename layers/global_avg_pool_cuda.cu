// CUDA global average pooling: one warp per (n, c) plane, summed in double as the CPU twin; backward broadcasts.
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/global_avg_pool.h"

namespace sgml::cuda {

namespace {

constexpr int kWarpsPerBlock = kThreadsPerBlock / 32;

// y (planes) = the mean of each plane of x (planes, hw). The plane loop is the same for all lanes of a warp, so the
// whole warp takes part in every shuffle.
__global__ void global_avg_pool_forward_kernel(float* y, const float* x, int planes, int hw) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * kWarpsPerBlock;
  for (int64_t p = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5); p < planes; p += warps) {
    const float* in = x + p * hw;
    double sum = 0.0;
    for (int i = lane; i < hw; i += 32) sum += in[i];
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) y[p] = float(sum / hw);
  }
}

// dx (planes, hw) = dy (planes) / hw.
__global__ void global_avg_pool_backward_kernel(float* dx, const float* dy, int64_t total, int hw) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x)
    dx[k] = dy[k / hw] / hw;
}

}  // namespace

void global_avg_pool_forward(float* y, const float* x, int planes, int hw, int device) {
  if (planes <= 0) return;
  cudaStream_t stream = CudaContext::get(device).stream();
  global_avg_pool_forward_kernel<<<blocks_for(int64_t(planes) * 32), kThreadsPerBlock, 0, stream>>>(y, x, planes, hw);
  SGML_CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw, int device) {
  const int64_t total = int64_t(planes) * hw;
  if (total <= 0) return;
  cudaStream_t stream = CudaContext::get(device).stream();
  global_avg_pool_backward_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(dx, dy, total, hw);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
