#include "layers/l2_normalize.h"

#include "engine/dispatch.h"

namespace sgml {

L2NormalizeResult l2_normalize_forward(const Tensor& x) {
  OpScope op("l2_normalize_forward");
  check_defined(x, "l2_normalize x");
  SGML_CHECK(x.ndim() == 2, "l2_normalize input must be (N,D), got ", shape_str(x.shape()));
  L2NormalizeResult r{Tensor::empty(x.shape(), x.device()), Tensor::empty({x.dim(0)}, x.device())};
  const int rows = int(x.dim(0)), cols = int(x.dim(1));
  SGML_DISPATCH(x, l2_normalize_forward, r.y.data(), r.norms.data(), x.data(), rows, cols);
  return r;
}

Tensor l2_normalize_backward(const Tensor& dy, const Tensor& y, const Tensor& norms) {
  OpScope op("l2_normalize_backward");
  check_defined(y, "l2_normalize_backward y");
  SGML_CHECK(y.ndim() == 2, "l2_normalize output must be (N,D), got ", shape_str(y.shape()));
  check_shape(dy, y.shape(), "l2_normalize_backward dy");
  check_shape(norms, {y.dim(0)}, "l2_normalize_backward norms");
  check_one_device("l2_normalize_backward", {{"y", y.device()}, {"dy", dy.device()}, {"norms", norms.device()}});
  Tensor dx = Tensor::empty(y.shape(), y.device());
  const int rows = int(y.dim(0)), cols = int(y.dim(1));
  SGML_DISPATCH(y, l2_normalize_backward, dx.data(), dy.data(), y.data(), norms.data(), rows, cols);
  return dx;
}

}  // namespace sgml
