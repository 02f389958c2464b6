#include "layers/global_avg_pool.h"

namespace sgml::cpu {

void global_avg_pool_forward(float* y, const float* x, int planes, int hw) {
#pragma omp parallel for if (int64_t(planes) * hw > 65536)
  for (int p = 0; p < planes; ++p) {
    double sum = 0;
    for (int i = 0; i < hw; ++i) sum += x[int64_t(p) * hw + i];
    y[p] = float(sum / hw);
  }
}

void global_avg_pool_backward(float* dx, const float* dy, int planes, int hw) {
#pragma omp parallel for if (int64_t(planes) * hw > 65536)
  for (int p = 0; p < planes; ++p) {
    const float g = dy[p] / hw;
    for (int i = 0; i < hw; ++i) dx[int64_t(p) * hw + i] = g;
  }
}

}  // namespace sgml::cpu
