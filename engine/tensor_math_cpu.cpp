#include "engine/tensor_math.h"

namespace sgml::cpu {

// Elementwise loops are `for simd`: at -O2 the compiler vectorises only loops that need no run-time check that
// their arrays do not overlap, and these arrays are either distinct or the same (never partly overlapping).
void add(float* y, const float* a, const float* b, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void add_inplace(float* a, const float* b, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) a[i] += b[i];
}

void scale_inplace(float* a, float alpha, int64_t n) {
#pragma omp parallel for simd if (n > 65536)
  for (int64_t i = 0; i < n; ++i) a[i] *= alpha;
}

}  // namespace sgml::cpu
