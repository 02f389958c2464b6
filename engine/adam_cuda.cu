#include "engine/adam.h"
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"

namespace sgml::cuda {

namespace {

// One fused pass over the flat buffers; the arithmetic mirrors adam_cpu.cpp line by line (torch's op order).
__global__ void adam_step_kernel(float* params, float* m, float* v, const float* grads, int64_t n,
                                 AdamStepScalars s) {
  for (int64_t k : grid_stride(n)) {
    const float p = params[k];
    const float g = s.weight_decay != 0.0f ? grads[k] + s.weight_decay * p : grads[k];
    const float mk = m[k] * s.beta1 + s.one_minus_beta1 * g;
    const float vk = v[k] * s.beta2 + s.one_minus_beta2 * g * g;
    const float denom = sqrtf(vk) / s.bias_correction2_sqrt + s.eps;
    m[k] = mk;
    v[k] = vk;
    params[k] = p + -s.step_size * mk / denom;
  }
}

}  // namespace

void adam_step(float* params, float* m, float* v, const float* grads, int64_t n, const AdamStepScalars& s) {
  if (n == 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  adam_step_kernel<<<blocks_for(n), kThreadsPerBlock, 0, stream>>>(params, m, v, grads, n, s);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
