#include <cmath>

#include "layers/l2_normalize.h"

namespace sgml::cpu {

void l2_normalize_forward(float* y, float* norms, const float* x, int rows, int cols) {
#pragma omp parallel for if (int64_t(rows) * cols > 65536)
  for (int r = 0; r < rows; ++r) {
    const float* in = x + int64_t(r) * cols;
    double sq = 0;
    for (int c = 0; c < cols; ++c) sq += double(in[c]) * in[c];
    const float norm = std::max(float(std::sqrt(sq)), kL2NormalizeEps);
    norms[r] = norm;
    for (int c = 0; c < cols; ++c) y[int64_t(r) * cols + c] = in[c] / norm;
  }
}

void l2_normalize_backward(float* dx, const float* dy, const float* y, const float* norms, int rows, int cols) {
#pragma omp parallel for if (int64_t(rows) * cols > 65536)
  for (int r = 0; r < rows; ++r) {
    const float* yr = y + int64_t(r) * cols;
    const float* dyr = dy + int64_t(r) * cols;
    float* dxr = dx + int64_t(r) * cols;
    const float norm = norms[r];
    if (norm > kL2NormalizeEps) {
      double dot = 0;
      for (int c = 0; c < cols; ++c) dot += double(yr[c]) * dyr[c];
      for (int c = 0; c < cols; ++c) dxr[c] = float((dyr[c] - yr[c] * dot) / norm);
    } else {  // the norm was clamped to eps, a constant
      for (int c = 0; c < cols; ++c) dxr[c] = dyr[c] / kL2NormalizeEps;
    }
  }
}

}  // namespace sgml::cpu
