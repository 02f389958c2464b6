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

void check_statistics(std::initializer_list<const Tensor*> tensors, const BatchNormShape& s) {
  for (const Tensor* t : tensors) check_shape(*t, {s.c}, "batch norm statistics");
}

// The epilogue's pointers: the residual must be x's shape, on x's device.
BatchNormEpilogue epilogue(const Tensor& x, const Tensor& residual, bool relu, const char* op) {
  if (!residual.defined()) return {nullptr, relu};
  check_shape(residual, x.shape(), op);
  check_same_device(x, residual, op);
  return {residual.data(), relu};
}

// The backward's ReLU mask: beta (C) on x's device, or none.
const float* relu_mask_beta(const Tensor& x, const Tensor& relu_beta, const char* op) {
  if (!relu_beta.defined()) return nullptr;
  check_shape(relu_beta, {x.dim(1)}, op);
  check_same_device(x, relu_beta, op);
  return relu_beta.data();
}

// dx (N,C,H,W), dgamma and dbeta (C), on x's device, each overwritten by the backward.
BatchNormGrads empty_grads(const Tensor& x) {
  const Device d = x.device();
  return {Tensor::empty(x.shape(), d), Tensor::empty({x.dim(1)}, d), Tensor::empty({x.dim(1)}, d)};
}
}  // namespace

BatchNormTrainResult batch_norm2d_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                                Tensor& running_mean, Tensor& running_var, float momentum,
                                                float eps, const Tensor& residual, bool relu) {
  OpScope op("batch_norm2d_forward_train");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_forward_train");
  SGML_CHECK(int64_t(s.n) * s.hw > 1, "batch norm in training needs more than one value per channel, got input ",
             shape_str(x.shape()));
  check_statistics({&beta, &running_mean, &running_var}, s);
  check_one_device("batch_norm2d_forward_train",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"beta", beta.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()}});
  const BatchNormEpilogue e = epilogue(x, residual, relu, "batch_norm2d_forward_train residual");
  const Device d = x.device();
  BatchNormTrainResult r{Tensor::empty(x.shape(), d), Tensor::empty({s.c}, d), Tensor::empty({s.c}, d)};
  SGML_DISPATCH(x, batch_norm2d_forward_train, r.y.data(), r.save_mean.data(), r.save_invstd.data(), x.data(),
                gamma.data(), beta.data(), running_mean.data(), running_var.data(), momentum, eps, s, e);
  return r;
}

Tensor batch_norm2d_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                                 const Tensor& running_var, float eps, const Tensor& residual, bool relu) {
  OpScope op("batch_norm2d_forward_eval");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_forward_eval");
  check_statistics({&beta, &running_mean, &running_var}, s);
  check_one_device("batch_norm2d_forward_eval",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"beta", beta.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()}});
  const BatchNormEpilogue e = epilogue(x, residual, relu, "batch_norm2d_forward_eval residual");
  Tensor y = Tensor::empty(x.shape(), x.device());
  SGML_DISPATCH(x, batch_norm2d_forward_eval, y.data(), x.data(), gamma.data(), beta.data(), running_mean.data(),
                running_var.data(), eps, s, e);
  return y;
}

BatchNormGrads batch_norm2d_backward(const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& save_mean,
                                     const Tensor& save_invstd, const Tensor& relu_beta) {
  OpScope op("batch_norm2d_backward");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_backward");
  check_shape(dy, x.shape(), "batch norm dy");
  check_statistics({&save_mean, &save_invstd}, s);
  const float* mask_beta = relu_mask_beta(x, relu_beta, "batch_norm2d_backward relu_beta");
  check_one_device("batch_norm2d_backward",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"dy", dy.device()},
                    {"save_mean", save_mean.device()}, {"save_invstd", save_invstd.device()}});
  BatchNormGrads g = empty_grads(x);
  SGML_DISPATCH(x, batch_norm2d_backward, g.dx.data(), g.dgamma.data(), g.dbeta.data(), dy.data(), x.data(),
                gamma.data(), save_mean.data(), save_invstd.data(), mask_beta, s);
  return g;
}

BatchNormGrads batch_norm2d_backward_frozen(const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                            const Tensor& running_mean, const Tensor& running_var, float eps,
                                            const Tensor& relu_beta) {
  OpScope op("batch_norm2d_backward_frozen");
  const BatchNormShape s = bn_shape(x, gamma, "batch_norm2d_backward_frozen");
  check_shape(dy, x.shape(), "batch norm dy");
  check_statistics({&running_mean, &running_var}, s);
  const float* mask_beta = relu_mask_beta(x, relu_beta, "batch_norm2d_backward_frozen relu_beta");
  check_one_device("batch_norm2d_backward_frozen",
                   {{"x", x.device()}, {"gamma", gamma.device()}, {"dy", dy.device()},
                    {"running_mean", running_mean.device()}, {"running_var", running_var.device()}});
  BatchNormGrads g = empty_grads(x);
  SGML_DISPATCH(x, batch_norm2d_backward_frozen, g.dx.data(), g.dgamma.data(), g.dbeta.data(), dy.data(), x.data(),
                gamma.data(), running_mean.data(), running_var.data(), eps, mask_beta, s);
  return g;
}

}  // namespace sgml
