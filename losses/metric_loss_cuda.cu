#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/tensor.h"
#include "losses/block_reduce_cuda.cuh"
#include "losses/loss_terms.h"
#include "losses/metric_loss.h"
#include "losses/stable_math.h"

namespace sgml::cuda {

namespace {

// Stage 1: one thread per pair (grid-stride). Writes the pair's gradient element and adds its loss to this
// block's partial sums: partials (blocks, 2) = (sum over positives, sum over negatives), not yet averaged.
__global__ void bdl_pairs_kernel(float* partials, float* dS, float* dG, const float* S, const float* G,
                                 const int32_t* pairs, int64_t num_pairs, int n, float inv_pos, float inv_neg,
                                 float alpha, float beta, float grad_scale) {
  __shared__ float scratch[32];
  float sum_pos = 0.0f, sum_neg = 0.0f;
  for (int64_t k : grid_stride(num_pairs)) {
    const int64_t e = int64_t(pairs[k]) * n + pairs[num_pairs + k];
    const float g = G ? G[e] : 0.0f;
    if (pairs[2 * num_pairs + k]) {
      const float z = -alpha * (S[e] + g - beta);  // dL/ds = dL/dg = -alpha sigmoid(z) / M
      sum_pos += stable_softplus(z);
      const float d = -alpha * stable_sigmoid(z) * inv_pos * grad_scale;
      dS[e] = d;
      if (dG) dG[e] = d;
    } else {
      const float z = alpha * (S[e] - g - beta);  // dL/ds = alpha sigmoid(z) / N = -dL/dg
      sum_neg += stable_softplus(z);
      const float d = alpha * stable_sigmoid(z) * inv_neg * grad_scale;
      dS[e] = d;
      if (dG) dG[e] = -d;
    }
  }
  sum_pos = block_sum(sum_pos, scratch);
  sum_neg = block_sum(sum_neg, scratch);
  if (threadIdx.x == 0) {
    partials[2 * blockIdx.x] = sum_pos;
    partials[2 * blockIdx.x + 1] = sum_neg;
  }
}

}  // namespace

void binomial_deviance_loss(float* terms, float* dS, float* dG, const float* S, const float* G, const int32_t* pairs,
                            int64_t num_pairs, int64_t num_positive, int64_t num_negative, int n, float alpha,
                            float beta, float grad_scale) {
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  const size_t bytes = sizeof(float) * n * n;
  SGML_CUDA_CHECK(cudaMemsetAsync(dS, 0, bytes, stream));
  if (dG) SGML_CUDA_CHECK(cudaMemsetAsync(dG, 0, bytes, stream));
  const float inv_pos = inverse_count(num_positive), inv_neg = inverse_count(num_negative);
  const int blocks = reduce_blocks_for(num_pairs, kThreadsPerBlock);
  Tensor partials = Tensor::empty({blocks, 2}, Device::cuda(ctx.device()));  // from the caching allocator
  bdl_pairs_kernel<<<blocks, kThreadsPerBlock, 0, stream>>>(partials.data(), dS, dG, S, G, pairs, num_pairs, n,
                                                            inv_pos, inv_neg, alpha, beta, grad_scale);
  SGML_CUDA_CHECK_LAUNCH();
  write_mean_terms(terms, partials.data(), blocks, inv_pos, inv_neg);
}

}  // namespace sgml::cuda
