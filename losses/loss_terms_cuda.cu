// The pair losses' last reduction stage (losses/loss_terms.h).
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "losses/block_reduce_cuda.cuh"
#include "losses/loss_terms.h"

namespace sgml::cuda {

namespace {

// One block sums the partials in a fixed order and takes the means. terms (3) = L, L_pos, L_neg.
__global__ void mean_terms_kernel(float* terms, const float* partials, int count, float inv_pos, float inv_neg) {
  __shared__ float scratch[32];
  float sum_pos = 0.0f, sum_neg = 0.0f;
  for (int b = threadIdx.x; b < count; b += blockDim.x) {
    sum_pos += partials[2 * b];
    sum_neg += partials[2 * b + 1];
  }
  sum_pos = block_sum(sum_pos, scratch);
  sum_neg = block_sum(sum_neg, scratch);
  if (threadIdx.x == 0) {
    const float l_pos = sum_pos * inv_pos, l_neg = sum_neg * inv_neg;
    terms[0] = l_pos + l_neg;
    terms[1] = l_pos;
    terms[2] = l_neg;
  }
}

}  // namespace

void write_mean_terms(float* terms, const float* partials, int count, float inv_pos, float inv_neg) {
  mean_terms_kernel<<<1, kThreadsPerBlock, 0, CudaContext::current().stream()>>>(terms, partials, count, inv_pos,
                                                                                 inv_neg);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
