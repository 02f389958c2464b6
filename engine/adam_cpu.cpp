#include <cmath>

#include "engine/adam.h"

namespace sgml::cpu {

namespace {
// One loop per weight-decay case, so that neither has a branch inside and both vectorise (with -fno-math-errno, set
// in CMakeLists.txt, sqrt is a vector instruction); each element's arithmetic is unchanged.
template <bool kDecay>
void adam_loop(float* params, float* m, float* v, const float* grads, int64_t n, const AdamStepScalars& s) {
  // Each line is one op of torch's single-tensor Adam, in torch's order and association (its CPU kernels compute
  // add(alpha) as a + alpha b, addcmul as a + value t1 t2, addcdiv as a + value t1 / t2).
#pragma omp parallel for simd if (n > 65536)
  for (int64_t k = 0; k < n; ++k) {
    const float g = kDecay ? grads[k] + s.weight_decay * params[k] : grads[k];  // grad.add(param, alpha=wd)
    m[k] = m[k] * s.beta1 + s.one_minus_beta1 * g;           // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
    v[k] = v[k] * s.beta2 + s.one_minus_beta2 * g * g;       // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
    const float denom = std::sqrt(v[k]) / s.bias_correction2_sqrt + s.eps;  // (v.sqrt() / bc2_sqrt).add_(eps)
    params[k] = params[k] + -s.step_size * m[k] / denom;     // param.addcdiv_(exp_avg, denom, value=-step_size)
  }
}
}  // namespace

void adam_step(float* params, float* m, float* v, const float* grads, int64_t n, const AdamStepScalars& s) {
  if (s.weight_decay != 0.0f)
    adam_loop<true>(params, m, v, grads, n, s);
  else
    adam_loop<false>(params, m, v, grads, n, s);
}

}  // namespace sgml::cpu
