// Row-major matrix product C = alpha * op(A) * op(B) + beta * C, op = transpose or not.
// The one GEMM under linear layers and embedding similarity. CPU: oneDNN SGEMM. CUDA: cuBLAS SGEMM.
#pragma once
#include "engine/tensor.h"

namespace sgml {

// C (M,N) = op(A) (M,K) * op(B) (K,N). A is (M,K) or, transposed, (K,M); likewise B.
void gemm(Tensor& c, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, float alpha = 1.0f,
          float beta = 0.0f);
// Convenience: a new C = op(A) op(B).
Tensor matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b);

namespace cpu {
void gemm(float* c, const float* a, bool transpose_a, const float* b, bool transpose_b, int m, int n, int k,
          float alpha, float beta);
}  // namespace cpu
namespace cuda {
void gemm(float* c, const float* a, bool transpose_a, const float* b, bool transpose_b, int m, int n, int k,
          float alpha, float beta);
}  // namespace cuda

}  // namespace sgml
