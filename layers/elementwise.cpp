#include "layers/elementwise.h"

#include "engine/dispatch.h"

namespace sgml {

Tensor relu_forward(const Tensor& x) {
  OpScope op("relu_forward");
  check_defined(x, "relu_forward");
  Tensor y = Tensor::empty(x.shape(), x.device());
  SGML_DISPATCH(x, relu_forward, y.data(), x.data(), x.numel());
  return y;
}

Tensor relu_backward(const Tensor& dy, const Tensor& y) {
  OpScope op("relu_backward");
  check_elementwise_pair(dy, y, "relu_backward");
  Tensor dx = Tensor::empty(y.shape(), y.device());
  SGML_DISPATCH(y, relu_backward, dx.data(), dy.data(), y.data(), y.numel());
  return dx;
}

Tensor sigmoid_forward(const Tensor& x) {
  OpScope op("sigmoid_forward");
  check_defined(x, "sigmoid_forward");
  Tensor y = Tensor::empty(x.shape(), x.device());
  SGML_DISPATCH(x, sigmoid_forward, y.data(), x.data(), x.numel());
  return y;
}

Tensor sigmoid_backward(const Tensor& dy, const Tensor& y) {
  OpScope op("sigmoid_backward");
  check_elementwise_pair(dy, y, "sigmoid_backward");
  Tensor dx = Tensor::empty(y.shape(), y.device());
  SGML_DISPATCH(y, sigmoid_backward, dx.data(), dy.data(), y.data(), y.numel());
  return dx;
}

void add_row_bias(Tensor& y, const Tensor& bias) {
  OpScope op("add_row_bias");
  check_defined(y, "add_row_bias");
  SGML_CHECK(y.ndim() == 2, "add_row_bias needs y (N,M), got ", shape_str(y.shape()));
  check_shape(bias, {y.dim(1)}, "add_row_bias bias");
  check_same_device(y, bias, "add_row_bias");
  const int rows = static_cast<int>(y.dim(0)), cols = static_cast<int>(y.dim(1));
  SGML_DISPATCH(y, add_row_bias, y.data(), bias.data(), rows, cols);
}

Tensor sum_rows(const Tensor& x) {
  OpScope op("sum_rows");
  check_defined(x, "sum_rows");
  SGML_CHECK(x.ndim() == 2, "sum_rows needs x (N,M), got ", shape_str(x.shape()));
  const int rows = static_cast<int>(x.dim(0)), cols = static_cast<int>(x.dim(1));
  Tensor out = Tensor::empty({x.dim(1)}, x.device());
  SGML_DISPATCH(x, sum_rows, out.data(), x.data(), rows, cols);
  return out;
}

}  // namespace sgml
