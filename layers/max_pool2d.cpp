#include "layers/max_pool2d.h"

#include "engine/dispatch.h"

namespace sgml {

namespace {
Pool2dGeometry pool_geometry(const Shape& x, int kernel, int stride, int pad) {
  SGML_CHECK(x.size() == 4, "max_pool2d input must be (N,C,H,W), got ", shape_str(x));
  SGML_CHECK(kernel >= 1 && stride >= 1 && pad >= 0 && 2 * pad <= kernel, "max_pool2d kernel ", kernel, " stride ",
             stride, " pad ", pad, " (padding must be at most half the kernel)");
  Pool2dGeometry g{int(x[0]), int(x[1]), int(x[2]), int(x[3]), kernel, stride, pad};
  SGML_CHECK(g.p() >= 1 && g.q() >= 1, "max_pool2d input ", shape_str(x), " too small for kernel ", kernel);
  return g;
}
}  // namespace

MaxPool2dResult max_pool2d_forward(const Tensor& x, int kernel, int stride, int pad) {
  OpScope op("max_pool2d_forward");
  check_defined(x, "max_pool2d x");
  const Pool2dGeometry g = pool_geometry(x.shape(), kernel, stride, pad);
  const Shape out{g.n, g.c, g.p(), g.q()};
  MaxPool2dResult r{Tensor::empty(out, x.device()), Tensor::empty(out, x.device(), DType::I32)};
  int32_t* idx = static_cast<int32_t*>(r.argmax.raw_data());
  SGML_DISPATCH(x, max_pool2d_forward, r.y.data(), idx, x.data(), g);
  return r;
}

Tensor max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Shape& x_shape, int kernel, int stride,
                           int pad) {
  OpScope op("max_pool2d_backward");
  const Pool2dGeometry g = pool_geometry(x_shape, kernel, stride, pad);
  check_shape(dy, {g.n, g.c, g.p(), g.q()}, "max_pool2d_backward dy");
  check_shape(argmax, dy.shape(), "max_pool2d_backward argmax");
  SGML_CHECK(argmax.dtype() == DType::I32, "max_pool2d_backward argmax must be int32");
  check_one_device("max_pool2d_backward", {{"dy", dy.device()}, {"argmax", argmax.device()}});
  Tensor dx = Tensor::empty(x_shape, dy.device());
  const int32_t* idx = static_cast<const int32_t*>(argmax.raw_data());
  SGML_DISPATCH(dy, max_pool2d_backward, dx.data(), dy.data(), idx, g);
  return dx;
}

}  // namespace sgml
