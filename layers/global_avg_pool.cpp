#include "layers/global_avg_pool.h"

#include "engine/dispatch.h"

namespace sgml {

Tensor global_avg_pool_forward(const Tensor& x) {
  OpScope op("global_avg_pool_forward");
  check_defined(x, "global_avg_pool x");
  SGML_CHECK(x.ndim() == 4, "global_avg_pool input must be (N,C,H,W), got ", shape_str(x.shape()));
  Tensor y = Tensor::empty({x.dim(0), x.dim(1)}, x.device());
  const int planes = int(x.dim(0) * x.dim(1)), hw = int(x.dim(2) * x.dim(3));
  SGML_DISPATCH(x, global_avg_pool_forward, y.data(), x.data(), planes, hw);
  return y;
}

Tensor global_avg_pool_backward(const Tensor& dy, const Shape& x_shape) {
  OpScope op("global_avg_pool_backward");
  SGML_CHECK(x_shape.size() == 4, "global_avg_pool input must be (N,C,H,W), got ", shape_str(x_shape));
  check_shape(dy, {x_shape[0], x_shape[1]}, "global_avg_pool_backward dy");
  Tensor dx = Tensor::empty(x_shape, dy.device());
  const int planes = int(x_shape[0] * x_shape[1]), hw = int(x_shape[2] * x_shape[3]);
  SGML_DISPATCH(dy, global_avg_pool_backward, dx.data(), dy.data(), planes, hw);
  return dx;
}

}  // namespace sgml
