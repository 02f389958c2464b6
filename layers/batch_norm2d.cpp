#include "layers/batch_norm2d.h"

#include <initializer_list>

#include "engine/dispatch.h"

namespace sgml {

namespace {
BatchNormShape bn_shape(const Tensor& x, const Tensor& gamma, const char* op) {
  check_defined(x, op);
  SGML_CHECK(x.ndim() == 4, op, " input must be (N,C,H,W), got ", shape_str(x.shape()));
  check_shape(gamma, {x.dim(1)}, op);
  check_same_device(x, gamma, op);
  return {int(x.dim(0)), int(x.dim(1)), int(x.dim(2) * x.dim(3))};
}
}  // namespace

void batch_norm2d_forward_train(Tensor& y, Tensor& save_mean, Tensor& save_invstd, const Tensor& x,
                                const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                                float momentum, float eps) {
  OpScope op("batch_norm2d_forward_train");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_forward_train");
  SGML_CHECK(int64_t(s.n) * s.hw > 1, "batch norm in training needs more than one value per channel, got input ",
             shape_str(x.shape()));
  for (const Tensor* t : std::initializer_list<const Tensor*>{&beta, &running_mean, &running_var, &save_mean, &save_invstd}) check_shape(*t, {s.c}, "batch norm statistics");
  check_shape(y, x.shape(), "batch norm output");
  check_one_device("batch_norm2d_forward_train",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"beta", beta.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()},
                    {"save_mean", save_mean.device()}, {"save_invstd", save_invstd.device()}, {"y", y.device()}});
  SGML_DISPATCH(x,
                cpu::batch_norm2d_forward_train(y.data(), save_mean.data(), save_invstd.data(), x.data(), gamma.data(),
                                                beta.data(), running_mean.data(), running_var.data(), momentum, eps, s),
                cuda::batch_norm2d_forward_train(y.data(), save_mean.data(), save_invstd.data(), x.data(), gamma.data(),
                                                 beta.data(), running_mean.data(), running_var.data(), momentum, eps, s,
                                                 x.device().index));
}

void batch_norm2d_forward_eval(Tensor& y, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                               const Tensor& running_mean, const Tensor& running_var, float eps) {
  OpScope op("batch_norm2d_forward_eval");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_forward_eval");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&beta, &running_mean, &running_var}) check_shape(*t, {s.c}, "batch norm statistics");
  check_shape(y, x.shape(), "batch norm output");
  check_one_device("batch_norm2d_forward_eval",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"beta", beta.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()}, {"y", y.device()}});
  SGML_DISPATCH(x,
                cpu::batch_norm2d_forward_eval(y.data(), x.data(), gamma.data(), beta.data(), running_mean.data(),
                                               running_var.data(), eps, s),
                cuda::batch_norm2d_forward_eval(y.data(), x.data(), gamma.data(), beta.data(), running_mean.data(),
                                                running_var.data(), eps, s, x.device().index));
}

void batch_norm2d_backward(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy, const Tensor& x,
                           const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd) {
  OpScope op("batch_norm2d_backward");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_backward");
  check_shape(dy, x.shape(), "batch norm dy");
  check_shape(dx, x.shape(), "batch norm dx");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&dgamma, &dbeta, &save_mean, &save_invstd}) check_shape(*t, {s.c}, "batch norm statistics");
  check_one_device("batch_norm2d_backward",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"dy", dy.device()}, {"save_mean", save_mean.device()},
                    {"save_invstd", save_invstd.device()}, {"dx", dx.device()}, {"dgamma", dgamma.device()},
                    {"dbeta", dbeta.device()}});
  SGML_DISPATCH(x,
                cpu::batch_norm2d_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), gamma.data(),
                                           save_mean.data(), save_invstd.data(), s),
                cuda::batch_norm2d_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), gamma.data(),
                                            save_mean.data(), save_invstd.data(), s, x.device().index));
}

void batch_norm2d_backward_frozen(Tensor& dx, Tensor& dgamma, Tensor& dbeta, const Tensor& dy, const Tensor& x,
                                  const Tensor& gamma, const Tensor& running_mean, const Tensor& running_var,
                                  float eps) {
  OpScope op("batch_norm2d_backward_frozen");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_backward_frozen");
  check_shape(dy, x.shape(), "batch norm dy");
  check_shape(dx, x.shape(), "batch norm dx");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&dgamma, &dbeta, &running_mean, &running_var}) check_shape(*t, {s.c}, "batch norm statistics");
  check_one_device("batch_norm2d_backward_frozen",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"dy", dy.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()},
                    {"dx", dx.device()}, {"dgamma", dgamma.device()}, {"dbeta", dbeta.device()}});
  SGML_DISPATCH(x,
                cpu::batch_norm2d_backward_frozen(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(),
                                                  gamma.data(), running_mean.data(), running_var.data(), eps, s),
                cuda::batch_norm2d_backward_frozen(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(),
                                                   gamma.data(), running_mean.data(), running_var.data(), eps, s,
                                                   x.device().index));
}

}  // namespace sgml
