#include "layers/dropout.h"
#include "layers/dropout_mask.h"

namespace sgml::cpu {

void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed) {
  const uint32_t threshold = dropout_threshold(p);
  const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = dropout_keeps(seed, i, threshold) ? x[i] * scale : 0.0f;
}

}  // namespace sgml::cpu
