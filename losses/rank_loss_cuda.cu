#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/tensor.h"
#include "losses/block_reduce_cuda.cuh"
#include "losses/loss_terms.h"
#include "losses/rank_loss.h"
#include "losses/stable_math.h"

namespace sgml::cuda {

namespace {

// Stage 1: one block per anchor row i (the formulas are in rank_loss.h). The block keeps row i of S and of dS in
// shared memory (2 B floats); column k belongs to thread k mod blockDim, so the accumulation needs no atomics. For
// each candidate j in turn, the block sums sigmoid(z_ijk) over k (r_ij), every thread derives c_ij from it, then
// adds c_ij sigma'(z_ijk) / (tau (B-2)) to its columns and the block sums those for column j. partials (B, 2) =
// the row's sums over positive and over negative pairs (thread 0 adds them in j order).
__global__ void rank_loss_rows_kernel(float* partials, float* dS, const float* S, const int32_t* labels, int n,
                                      float inv_pos, float inv_neg, float tau, float rho, float grad_scale) {
  extern __shared__ float shared[];
  float* s = shared;       // (B) row i of S
  float* ds = shared + n;  // (B) row i of dS
  __shared__ float scratch[32];
  __shared__ float broadcast;
  const int i = blockIdx.x;
  for (int k = threadIdx.x; k < n; k += blockDim.x) {
    s[k] = S[int64_t(i) * n + k];
    ds[k] = 0.0f;
  }
  __syncthreads();
  const float inv_others = 1.0f / float(n - 2);
  const int32_t label_i = labels[i];
  float sum_pos = 0.0f, sum_neg = 0.0f;  // thread 0's
  for (int j = 0; j < n; ++j) {
    if (j == i) continue;  // the same for the whole block
    const float sij = s[j];
    float ahead = 0.0f;
    for (int k = threadIdx.x; k < n; k += blockDim.x)
      if (k != i && k != j) ahead += stable_sigmoid((s[k] - sij) / tau);
    ahead = block_sum(ahead, scratch);
    if (threadIdx.x == 0) broadcast = ahead;
    __syncthreads();
    // Read before the next write of `broadcast`, which follows the barriers inside the next block_sum.
    const float x = broadcast * inv_others / rho;
    const float f = expf(-x), one_minus_f = -expm1f(-x);
    float c;
    if (labels[j] == label_i) {
      sum_pos += one_minus_f * one_minus_f;
      c = 2.0f * f * one_minus_f / rho * inv_pos * grad_scale;
    } else {
      sum_neg += f * f;
      c = -2.0f * f * f / rho * inv_neg * grad_scale;
    }
    const float w = c * inv_others / tau;
    float total = 0.0f;
    for (int k = threadIdx.x; k < n; k += blockDim.x) {
      if (k == i || k == j) continue;
      const float z = (s[k] - sij) / tau;
      const float d = w * (stable_sigmoid(z) * stable_sigmoid(-z));
      ds[k] += d;
      total += d;
    }
    total = block_sum(total, scratch);
    // Column j's owner does not touch ds[j] in this round (k != j); the next round's block_sum orders this write
    // before any later access.
    if (threadIdx.x == 0) ds[j] -= total;
  }
  __syncthreads();
  for (int k = threadIdx.x; k < n; k += blockDim.x) dS[int64_t(i) * n + k] = ds[k];
  if (threadIdx.x == 0) {
    partials[2 * i] = sum_pos;
    partials[2 * i + 1] = sum_neg;
  }
}

}  // namespace

void rank_approximation_loss(float* terms, float* dS, const float* S, const int32_t* labels, int n,
                             int64_t num_positive, int64_t num_negative, float tau, float rho, float grad_scale) {
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  if (n < 3) {  // no candidate to rank against: L = 0, dL/dS = 0 (rank_loss.h)
    SGML_CUDA_CHECK(cudaMemsetAsync(dS, 0, sizeof(float) * n * n, stream));
    SGML_CUDA_CHECK(cudaMemsetAsync(terms, 0, sizeof(float) * 3, stream));
    return;
  }
  // The rows kernel writes every element of dS (the diagonal as 0) and the finish kernel all of terms.
  const float inv_pos = inverse_count(num_positive), inv_neg = inverse_count(num_negative);
  Tensor partials = Tensor::empty({n, 2}, Device::cuda(ctx.device()));  // from the caching allocator
  const size_t shared_bytes = 2 * sizeof(float) * n;  // at most 32 KiB (n <= 4096, checked by the caller)
  rank_loss_rows_kernel<<<n, kThreadsPerBlock, shared_bytes, stream>>>(partials.data(), dS, S, labels, n, inv_pos,
                                                                        inv_neg, tau, rho, grad_scale);
  SGML_CUDA_CHECK_LAUNCH();
  write_mean_terms(terms, partials.data(), n, inv_pos, inv_neg);
}

}  // namespace sgml::cuda
