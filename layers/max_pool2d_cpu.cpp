#include <algorithm>
#include <cstring>
#include <limits>

#include "layers/max_pool2d.h"

namespace sgml::cpu {

void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dGeometry& g) {
  const int P = g.p(), Q = g.q();
#pragma omp parallel for
  for (int64_t plane = 0; plane < int64_t(g.n) * g.c; ++plane) {
    const float* in = x + plane * g.h * g.w;
    for (int p = 0; p < P; ++p)
      for (int q = 0; q < Q; ++q) {
        float best = -std::numeric_limits<float>::infinity();
        int best_index = -1;
        for (int i = 0; i < g.kernel; ++i) {
          const int h = p * g.stride - g.pad + i;
          if (h < 0 || h >= g.h) continue;
          for (int j = 0; j < g.kernel; ++j) {
            const int w = q * g.stride - g.pad + j;
            if (w < 0 || w >= g.w) continue;
            const float v = in[h * g.w + w];
            // First maximum wins; a NaN wins as in PyTorch, so it propagates. Written as selects, not a branch:
            // which element wins is data-dependent and mispredicted branches were most of this loop's time.
            const bool take = best_index < 0 || v > best || (v != v && best == best);
            best = take ? v : best;
            best_index = take ? h * g.w + w : best_index;
          }
        }
        y[plane * P * Q + p * Q + q] = best;
        argmax[plane * P * Q + p * Q + q] = best_index;
      }
  }
}

void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dGeometry& g) {
  const int P = g.p(), Q = g.q();
#pragma omp parallel for
  for (int64_t plane = 0; plane < int64_t(g.n) * g.c; ++plane) {
    float* out = dx + plane * g.h * g.w;
    std::memset(out, 0, sizeof(float) * g.h * g.w);
    // Within one plane the scatter is sequential, so overlapping windows add up deterministically.
    for (int o = 0; o < P * Q; ++o) out[argmax[plane * P * Q + o]] += dy[plane * P * Q + o];
  }
}

}  // namespace sgml::cpu
