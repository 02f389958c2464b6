// CUDA GEMM: row-major C (M,N) = alpha * op(A) * op(B) + beta * C with cuBLAS SGEMM: strict fp32
// (CUBLAS_DEFAULT_MATH) under the fp32 math precision, TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH) under tf32
// (engine/math_precision.h). The mode is set on every call: the handle is shared by everything on the device.
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/math_precision.h"
#include "layers/gemm.h"

namespace sgml::cuda {

namespace {

// c (m, n) = beta * c, written without reading c when beta is 0 (so NaN or garbage in c does not survive).
__global__ void scale_or_zero_kernel(float* c, float beta, int64_t total) {
  for (int64_t k : grid_stride(total))
    c[k] = beta == 0.0f ? 0.0f : beta * c[k];
}

}  // namespace

void gemm(float* c, const float* a, bool transpose_a, const float* b, bool transpose_b, int m, int n, int k,
          float alpha, float beta) {
  if (m == 0 || n == 0) return;
  CudaContext& ctx = CudaContext::current();
  if (k == 0) {  // the empty product: C = beta * C, as the CPU twin (BLAS would leave C alone)
    const int64_t total = int64_t(m) * n;
    scale_or_zero_kernel<<<blocks_for(total), kThreadsPerBlock, 0, ctx.stream()>>>(c, beta, total);
    SGML_CUDA_CHECK_LAUNCH();
    return;
  }
  // cuBLAS is column-major, and a row-major (R, S) buffer read column-major is its transpose, (S, R) with leading
  // dimension S. So the row-major C (M,N) is the column-major C^T (N,M), ldc = N, and we ask cuBLAS for
  //   C^T (N,M) = op(B)^T (N,K) * op(A)^T (K,M),
  // i.e. cuBLAS's first operand is B's buffer and its second is A's, with the same transpose flags:
  //   B not transposed: B is row-major (K,N), read column-major it is B^T (N,K) already: no transpose, ldb = N.
  //   B transposed:     B is row-major (N,K), read column-major (K,N) = op(B); transpose it: ldb = K.
  //   A not transposed: A is row-major (M,K), read column-major it is A^T (K,M) already: no transpose, lda = K.
  //   A transposed:     A is row-major (K,M), read column-major (M,K) = op(A); transpose it: lda = M.
  // Each leading dimension is the row length of the row-major buffer, as in cblas_sgemm(CblasRowMajor, ...).
  const int lda = transpose_a ? m : k, ldb = transpose_b ? k : n;
  SGML_CUBLAS_CHECK(cublasSetMathMode(ctx.cublas(), math_precision() == MathPrecision::Tf32
                                                        ? CUBLAS_TF32_TENSOR_OP_MATH
                                                        : CUBLAS_DEFAULT_MATH));
  // With beta = 0 cuBLAS does not read C, so C need not hold finite values.
  SGML_CUBLAS_CHECK(cublasSgemm(ctx.cublas(), transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda, &beta, c,
                                n));
}

}  // namespace sgml::cuda
