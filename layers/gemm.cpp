#include "layers/gemm.h"

#include "engine/dispatch.h"

namespace sgml {

void gemm(Tensor& c, const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b, float alpha, float beta) {
  OpScope op("gemm");
  check_defined(a, "gemm A");
  check_defined(b, "gemm B");
  SGML_CHECK(a.ndim() == 2 && b.ndim() == 2, "gemm needs matrices, got ", shape_str(a.shape()), " and ",
             shape_str(b.shape()));
  const int64_t m = transpose_a ? a.dim(1) : a.dim(0), k = transpose_a ? a.dim(0) : a.dim(1);
  const int64_t kb = transpose_b ? b.dim(1) : b.dim(0), n = transpose_b ? b.dim(0) : b.dim(1);
  if (k != kb)
    SGML_FAIL("gemm: inner dimensions differ: op(A) ", m, "x", k, ", op(B) ", kb, "x", n, " (A ", shape_str(a.shape()),
              transpose_a ? "ᵀ" : "", ", B ", shape_str(b.shape()), transpose_b ? "ᵀ" : "", ")");
  check_shape(c, {m, n}, "gemm C");
  check_same_device(a, b, "gemm");
  check_same_device(a, c, "gemm");
  SGML_DISPATCH(a, gemm, c.data(), a.data(), transpose_a, b.data(), transpose_b, int(m), int(n), int(k), alpha, beta);
}

Tensor matmul(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b) {
  check_defined(a, "matmul A");
  check_defined(b, "matmul B");
  SGML_CHECK(a.ndim() == 2 && b.ndim() == 2, "matmul needs matrices, got ", shape_str(a.shape()), " and ",
             shape_str(b.shape()));
  Tensor c = Tensor::empty({transpose_a ? a.dim(1) : a.dim(0), transpose_b ? b.dim(0) : b.dim(1)}, a.device());
  gemm(c, a, transpose_a, b, transpose_b, 1.0f, 0.0f);
  return c;
}

}  // namespace sgml
