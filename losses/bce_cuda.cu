#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/tensor.h"
#include "losses/bce.h"
#include "losses/block_reduce_cuda.cuh"
#include "losses/stable_math.h"

namespace sgml::cuda {

namespace {

// Stage 1 (grid-stride over the N K elements): dlogits and one partial sum of the loss per block.
__global__ void bce_elements_kernel(float* partials, float* dlogits, const float* logits, const float* targets,
                                    int64_t n, float scale) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int64_t k : grid_stride(n)) {
    const float x = logits[k], t = targets[k];
    sum += stable_bce_with_logits(x, t);
    dlogits[k] = (stable_sigmoid(x) - t) * scale;
  }
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// Stage 2: one block sums the partials in a fixed order; value (1) = the mean.
__global__ void bce_finish_kernel(float* value, const float* partials, int blocks, float inv_n) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) sum += partials[b];
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) value[0] = sum * inv_n;
}

}  // namespace

void bce_with_logits(float* value, float* dlogits, const float* logits, const float* targets, int64_t n,
                     float grad_scale) {
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  const int blocks = reduce_blocks_for(n, kThreadsPerBlock);
  Tensor partials = Tensor::empty({blocks}, Device::cuda(ctx.device()));  // from the caching allocator
  const float inv_n = 1.0f / static_cast<float>(n);
  bce_elements_kernel<<<blocks, kThreadsPerBlock, 0, stream>>>(partials.data(), dlogits, logits, targets, n,
                                                               grad_scale * inv_n);
  SGML_CUDA_CHECK_LAUNCH();
  bce_finish_kernel<<<1, kThreadsPerBlock, 0, stream>>>(value, partials.data(), blocks, inv_n);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
