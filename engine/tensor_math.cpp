#include "engine/tensor_math.h"

#include "engine/dispatch.h"

namespace sgml {

void check_elementwise_pair(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op);
  check_defined(b, op);
  if (a.shape() != b.shape()) SGML_FAIL(op, ": shapes differ: ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  check_same_device(a, b, op);
}

Tensor add(const Tensor& a, const Tensor& b) {
  OpScope op("add");
  check_elementwise_pair(a, b, "add");
  Tensor y = Tensor::empty(a.shape(), a.device());
  SGML_DISPATCH(a, add, y.data(), a.data(), b.data(), a.numel());
  return y;
}

void add_inplace(Tensor& a, const Tensor& b) {
  OpScope op("add_inplace");
  check_elementwise_pair(a, b, "add_inplace");
  SGML_DISPATCH(a, add_inplace, a.data(), b.data(), a.numel());
}

void scale_inplace(Tensor& a, float alpha) {
  OpScope op("scale_inplace");
  check_defined(a, "scale_inplace");
  SGML_DISPATCH(a, scale_inplace, a.data(), alpha, a.numel());
}

}  // namespace sgml
