#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/tensor.h"
#include "losses/block_reduce_cuda.cuh"
#include "losses/margin_loss.h"
#include "losses/margin_math.h"

namespace sgml::cuda {

namespace {

// The formulas are in margin_loss.h, the per-row work in margin_math.h (shared with the CPU twin). One thread owns
// one anchor row (or one draw) and walks its columns in order, as the CPU twin does, so no atomics are needed and
// every result is reproducible bit for bit. B <= 4096: a row's O(B) (weights, loss) or O(B^2) (nearest order, one
// thread per (row, column)) work is small per thread.
__global__ void negative_weights_kernel(float* W, const float* S, const int32_t* labels, const float* beta, int n,
                                        int dim, float margin) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) margin_weights_row(W + int64_t(i) * n, S + int64_t(i) * n, labels, i, n, dim, beta[i] + margin);
}

__global__ void sample_negatives_kernel(int32_t* chosen, const float* W, const int32_t* rows, const float* u,
                                        int draws, int n) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < draws) chosen[t] = margin_sample_row(W + int64_t(rows[t]) * n, n, u[t]);
}

// One thread per anchor row: its draws in order, without replacement (the row of W is the thread's scratch).
__global__ void sample_negatives_distinct_kernel(int32_t* chosen, float* W, const int32_t* row_start, const float* u,
                                                 int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    margin_sample_row_distinct(chosen + row_start[i], W + int64_t(i) * n, n, u + row_start[i],
                               row_start[i + 1] - row_start[i]);
}

// One thread per (row i, column k): k's position among row i's negatives, by counting.
__global__ void nearest_order_kernel(int32_t* order, const float* S, const int32_t* labels, int n) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= int64_t(n) * n) return;
  const int i = int(e / n), k = int(e % n);
  // Slots of row i that no negative fills stay -1: the thread of each slot position >= count writes it.
  int count = 0;
  for (int c = 0; c < n; ++c) count += labels[c] != labels[i];
  if (k >= count) order[int64_t(i) * n + k] = -1;
  if (labels[k] != labels[i]) order[int64_t(i) * n + margin_nearest_position(S + int64_t(i) * n, labels, i, k, n)] = k;
}

// Row i's hinge sums, count and unscaled gradient (partials (B, 4)); dS must be zero beforehand.
__global__ void margin_rows_kernel(float* partials, float* dS, const float* S, const int32_t* row_start,
                                   const int32_t* positives, const int32_t* negatives, const float* beta, int n,
                                   float margin) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    margin_loss_row(partials + 4 * int64_t(i), dS + int64_t(i) * n, S + int64_t(i) * n, row_start[i], row_start[i + 1],
                    positives, negatives, beta[i], margin);
}

// One block: the rows' partials in a fixed order, then terms (4) = L, L_pos, L_neg, count.
__global__ void margin_finish_kernel(float* terms, const float* partials, int n) {
  __shared__ float scratch[32];
  float pos = 0.0f, neg = 0.0f, count = 0.0f;
  for (int b = threadIdx.x; b < n; b += blockDim.x) {
    pos += partials[4 * b];
    neg += partials[4 * b + 1];
    count += partials[4 * b + 2];
  }
  pos = block_sum(pos, scratch);
  neg = block_sum(neg, scratch);
  count = block_sum(count, scratch);
  if (threadIdx.x == 0) {
    const float inv = count > 0.0f ? 1.0f / count : 0.0f;
    terms[0] = (pos + neg) * inv;
    terms[1] = pos * inv;
    terms[2] = neg * inv;
    terms[3] = count;
  }
}

// dS times grad_scale / count and dbeta = the rows' unscaled dbeta times the same (count read from terms[3] on the
// device: no host round trip).
__global__ void margin_scale_kernel(float* dS, float* dbeta, const float* partials, const float* terms, int n,
                                    float grad_scale) {
  const int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const float count = terms[3];
  const float scale = count > 0.0f ? grad_scale * (1.0f / count) : 0.0f;
  if (e < int64_t(n) * n) dS[e] *= scale;
  if (e < n) dbeta[e] = partials[4 * e + 3] * scale;
}

int blocks_for(int64_t items) { return static_cast<int>((items + kThreadsPerBlock - 1) / kThreadsPerBlock); }

}  // namespace

void margin_negative_weights(float* W, const float* S, const int32_t* labels, const float* beta, int n, int dim,
                             float margin) {
  if (n == 0) return;
  negative_weights_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(
      W, S, labels, beta, n, dim, margin);
  SGML_CUDA_CHECK_LAUNCH();
}

void margin_sample_negatives(int32_t* chosen, const float* W, const int32_t* rows, const float* u, int draws,
                             int n) {
  if (draws == 0) return;
  sample_negatives_kernel<<<blocks_for(draws), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(
      chosen, W, rows, u, draws, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void margin_sample_negatives_distinct(int32_t* chosen, float* W, const int32_t* row_start, const float* u, int n) {
  if (n == 0) return;
  sample_negatives_distinct_kernel<<<blocks_for(n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(
      chosen, W, row_start, u, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void margin_nearest_order(int32_t* order, const float* S, const int32_t* labels, int n) {
  if (n == 0) return;
  nearest_order_kernel<<<blocks_for(int64_t(n) * n), kThreadsPerBlock, 0, CudaContext::current().stream()>>>(
      order, S, labels, n);
  SGML_CUDA_CHECK_LAUNCH();
}

void margin_loss(float* terms, float* dS, float* dbeta, const float* S, const int32_t* row_start,
                 const int32_t* positives, const int32_t* negatives, const float* beta, int n, float margin,
                 float grad_scale) {
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  SGML_CUDA_CHECK(cudaMemsetAsync(terms, 0, sizeof(float) * 4, stream));
  if (n == 0) return;
  SGML_CUDA_CHECK(cudaMemsetAsync(dS, 0, sizeof(float) * n * n, stream));
  Tensor partials = Tensor::empty({n, 4}, Device::cuda(ctx.device()));  // from the caching allocator
  margin_rows_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(partials.data(), dS, S, row_start, positives,
                                                                     negatives, beta, n, margin);
  SGML_CUDA_CHECK_LAUNCH();
  margin_finish_kernel<<<1, kThreadsPerBlock, 0, stream>>>(terms, partials.data(), n);
  SGML_CUDA_CHECK_LAUNCH();
  margin_scale_kernel<<<blocks_for(int64_t(n) * n), kThreadsPerBlock, 0, stream>>>(dS, dbeta, partials.data(), terms,
                                                                                    n, grad_scale);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
