#include "layers/conv2d.h"

#include "engine/dispatch.h"

namespace sgml {

Conv2dGeometry conv2d_geometry(const Shape& x, const Shape& w, int stride, int pad) {
  SGML_CHECK(x.size() == 4, "conv2d input must be (N,C,H,W), got ", shape_str(x));
  SGML_CHECK(w.size() == 4, "conv2d filter must be (K,C,R,S), got ", shape_str(w));
  SGML_CHECK(x[1] == w[1], "conv2d input has ", x[1], " channels, filter expects ", w[1], " (x ", shape_str(x),
             ", w ", shape_str(w), ")");
  SGML_CHECK(stride >= 1 && pad >= 0, "conv2d stride ", stride, " pad ", pad);
  Conv2dGeometry g{int(x[0]), int(x[1]), int(x[2]), int(x[3]), int(w[0]), int(w[2]), int(w[3]), stride, pad};
  SGML_CHECK(g.h + 2 * pad >= g.r && g.w + 2 * pad >= g.s, "conv2d input ", shape_str(x),
             " smaller than the filter ", shape_str(w), " with padding ", pad);
  return g;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, int stride, int pad) {
  OpScope op("conv2d_forward");
  check_defined(x, "conv2d x");
  check_defined(w, "conv2d w");
  check_same_device(x, w, "conv2d");
  const Conv2dGeometry g = conv2d_geometry(x.shape(), w.shape(), stride, pad);
  Tensor y = Tensor::empty({g.n, g.k, g.p(), g.q()}, x.device());
  SGML_DISPATCH(x, conv2d_forward, y.data(), x.data(), w.data(), g);
  return y;
}

void conv2d_backward_data_into(Tensor& dx, const Tensor& dy, const Tensor& w, int stride, int pad, bool accumulate) {
  OpScope op("conv2d_backward_data");
  const Conv2dGeometry g = conv2d_geometry(dx.shape(), w.shape(), stride, pad);
  check_shape(dy, {g.n, g.k, g.p(), g.q()}, "conv2d_backward_data dy");
  check_same_device(dy, w, "conv2d_backward_data");
  check_same_device(dy, dx, "conv2d_backward_data dx");
  SGML_DISPATCH(dy, conv2d_backward_data, dx.data(), dy.data(), w.data(), g, accumulate);
}

void conv2d_backward_filter_into(Tensor& dw, const Tensor& dy, const Tensor& x, int stride, int pad,
                                 bool accumulate) {
  OpScope op("conv2d_backward_filter");
  const Conv2dGeometry g = conv2d_geometry(x.shape(), dw.shape(), stride, pad);
  check_shape(dy, {g.n, g.k, g.p(), g.q()}, "conv2d_backward_filter dy");
  check_same_device(dy, x, "conv2d_backward_filter");
  check_same_device(dy, dw, "conv2d_backward_filter dw");
  SGML_DISPATCH(dy, conv2d_backward_filter, dw.data(), dy.data(), x.data(), g, accumulate);
}

Tensor conv2d_backward_data(const Tensor& dy, const Tensor& w, const Shape& x_shape, int stride, int pad) {
  Tensor dx = Tensor::empty(x_shape, dy.device());
  conv2d_backward_data_into(dx, dy, w, stride, pad, false);
  return dx;
}

Tensor conv2d_backward_filter(const Tensor& dy, const Tensor& x, const Shape& w_shape, int stride, int pad) {
  Tensor dw = Tensor::empty(w_shape, dy.device());
  conv2d_backward_filter_into(dw, dy, x, stride, pad, false);
  return dw;
}

}  // namespace sgml
