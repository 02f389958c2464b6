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

Tensor scale_columns(const Tensor& x, const Tensor& v) {
  OpScope op("scale_columns");
  check_defined(x, "scale_columns");
  check_defined(v, "scale_columns");
  SGML_CHECK(x.ndim() == 2 && v.numel() == x.dim(1), "scale_columns needs x (N,M) and M scales, got x ",
             shape_str(x.shape()), " and scales ", shape_str(v.shape()));
  check_same_device(x, v, "scale_columns");
  const int rows = static_cast<int>(x.dim(0)), cols = static_cast<int>(x.dim(1));
  Tensor y = Tensor::empty(x.shape(), x.device());
  SGML_DISPATCH(x, scale_columns, y.data(), x.data(), v.data(), rows, cols);
  return y;
}

Tensor column_dots(const Tensor& a, const Tensor& b) {
  OpScope op("column_dots");
  check_defined(a, "column_dots");
  check_defined(b, "column_dots");
  SGML_CHECK(a.ndim() == 2, "column_dots needs a (N,M), got ", shape_str(a.shape()));
  check_shape(b, a.shape(), "column_dots b");
  check_same_device(a, b, "column_dots");
  const int rows = static_cast<int>(a.dim(0)), cols = static_cast<int>(a.dim(1));
  Tensor out = Tensor::empty({a.dim(1)}, a.device());
  SGML_DISPATCH(a, column_dots, out.data(), a.data(), b.data(), rows, cols);
  return out;
}

}  // namespace sgml
