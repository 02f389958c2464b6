#include <cblas.h>

#include "layers/gemm.h"

namespace sgml::cpu {

void gemm(float* c, const float* a, bool transpose_a, const float* b, bool transpose_b, int m, int n, int k,
          float alpha, float beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS leaves C alone when k = 0 only if beta = 1; make the empty product explicit
    for (int64_t i = 0; i < int64_t(m) * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n, k,
              alpha, a, transpose_a ? m : k, b, transpose_b ? k : n, beta, c, n);
}

}  // namespace sgml::cpu
