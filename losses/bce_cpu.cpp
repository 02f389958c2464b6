#include "losses/bce.h"
#include "losses/stable_math.h"

namespace sgml::cpu {

void bce_with_logits(float* value, float* dlogits, const float* logits, const float* targets, int64_t n,
                     float grad_scale) {
  const float scale = grad_scale / static_cast<float>(n);
  // Serial: a fixed summation order keeps the value reproducible; N K is tens of thousands at most.
  double sum = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const float x = logits[k], t = targets[k];
    sum += stable_bce_with_logits(x, t);
    dlogits[k] = (stable_sigmoid(x) - t) * scale;
  }
  value[0] = static_cast<float>(sum / static_cast<double>(n));
}

}  // namespace sgml::cpu
