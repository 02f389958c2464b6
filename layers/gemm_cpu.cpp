// The CPU GEMM is oneDNN's SGEMM (row-major, as ours). It picks its kernel from the CPU's feature flags and threads
// with our OpenMP pool. OpenBLAS, used before, chose its kernel from the CPU model and fell back to SSE3 ("Prescott")
// on virtual machines that report a generic model, 2 to 7 times slower on the head's shapes (BENCHMARKS.md).
#include <oneapi/dnnl/dnnl.h>

#include "engine/check.h"
#include "layers/gemm.h"

namespace sgml::cpu {

void gemm(float* c, const float* a, bool transpose_a, const float* b, bool transpose_b, int m, int n, int k,
          float alpha, float beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // the empty product, explicit: no BLAS is asked for a product over nothing
    for (int64_t i = 0; i < int64_t(m) * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a,
                                          transpose_a ? m : k, b, transpose_b ? k : n, beta, c, n);
  SGML_CHECK(status == dnnl_success, "oneDNN sgemm failed (status ", int(status), ") for a ", m, " x ", k, " by ", k,
             " x ", n, " product");
}

}  // namespace sgml::cpu
