#include "layers/dropout.h"

#include <cmath>

#include "engine/dispatch.h"

namespace sgml {

Tensor dropout_forward(const Tensor& x, float p, uint64_t seed) {
  OpScope op("dropout");
  check_defined(x, "dropout x");
  SGML_CHECK(x.dtype() == DType::F32, "dropout needs F32");
  SGML_CHECK(std::isfinite(p) && p >= 0.0f && p <= 0.95f, "dropout: the probability must be between 0 and 0.95, got ",
             p);
  if (p == 0.0f) return x;
  Tensor y = Tensor::empty(x.shape(), x.device());
  SGML_DISPATCH(x, dropout, y.data(), x.data(), x.numel(), p, seed);
  return y;
}

}  // namespace sgml
