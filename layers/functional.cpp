#include "layers/functional.h"

#include "engine/check.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/elementwise.h"
#include "layers/gemm.h"
#include "layers/global_avg_pool.h"
#include "layers/l2_normalize.h"
#include "layers/max_pool2d.h"

namespace sgml::fn {

Variable conv2d(const Variable& x, const Variable& w, int stride, int pad) {
  Tensor y = conv2d_forward(x.value(), w.value(), stride, pad);
  Tensor xv = x.value(), wv = w.value();
  return Variable(std::move(y), {x, w}, [xv, wv, stride, pad](std::vector<Variable>& in, const Tensor& dy) {
    in[0].add_grad_with([&](Tensor& dx, bool accumulate) {
      conv2d_backward_data_into(dx, dy, wv, stride, pad, accumulate);
    });
    in[1].add_grad_with([&](Tensor& dw, bool accumulate) {
      conv2d_backward_filter_into(dw, dy, xv, stride, pad, accumulate);
    });
  });
}

Variable batch_norm2d(const Variable& x, const Variable& gamma, const Variable& beta, BatchNormBuffers& buffers,
                      bool training, const Variable& residual, bool relu) {
  const Tensor& xv = x.value();
  const Tensor rv = residual.defined() ? residual.value() : Tensor();
  Tensor y, gv = gamma.value();
  // The statistics the backward needs: the batch's (training) or the running ones held fixed (eval, frozen).
  Tensor mean, invstd, running_mean, running_var;
  const float eps = buffers.eps;
  if (training) {
    BatchNormTrainResult r = batch_norm2d_forward_train(xv, gv, beta.value(), buffers.running_mean,
                                                        buffers.running_var, buffers.momentum, eps, rv, relu);
    if (buffers.num_batches_tracked.defined()) buffers.num_batches_tracked.data_i64()[0] += 1;
    y = std::move(r.y);
    mean = r.save_mean;
    invstd = r.save_invstd;
  } else {
    y = batch_norm2d_forward_eval(xv, gv, beta.value(), buffers.running_mean, buffers.running_var, eps, rv, relu);
    // Frozen statistics (inference, or fine-tuning with frozen batch norm): gradients still flow to x, gamma and
    // beta, with the running statistics held fixed. The closure keeps the statistics' tensors, so a later update
    // of the buffers (none happens in eval mode) would not change this step's backward.
    running_mean = buffers.running_mean;
    running_var = buffers.running_var;
  }
  std::vector<Variable> inputs{x, gamma, beta};
  if (residual.defined()) inputs.push_back(residual);
  // The ReLU's mask: recomputed from x by the batch norm backward when nothing else needs the masked gradient;
  // with a residual, from y (the next layer's input, kept alive anyway), and the masked gradient goes to both.
  const Tensor relu_beta = relu && !residual.defined() ? beta.value() : Tensor();
  const Tensor yv = relu && residual.defined() ? y : Tensor();
  return Variable(std::move(y), std::move(inputs), [=](std::vector<Variable>& in, const Tensor& dy) {
    const Tensor g = yv.defined() ? relu_backward(dy, yv) : dy;
    if (in.size() > 3) in[3].add_grad(g);
    BatchNormGrads d = training ? batch_norm2d_backward(g, xv, gv, mean, invstd, relu_beta)
                                : batch_norm2d_backward_frozen(g, xv, gv, running_mean, running_var, eps, relu_beta);
    in[0].add_grad(d.dx);
    in[1].add_grad(d.dgamma);
    in[2].add_grad(d.dbeta);
  });
}

Variable relu(const Variable& x) {
  Tensor y = relu_forward(x.value());
  Tensor yv = y;
  return Variable(std::move(y), {x},
                  [yv](std::vector<Variable>& in, const Tensor& dy) { in[0].add_grad(relu_backward(dy, yv)); });
}

Variable sigmoid(const Variable& x) {
  Tensor y = sigmoid_forward(x.value());
  Tensor yv = y;
  return Variable(std::move(y), {x},
                  [yv](std::vector<Variable>& in, const Tensor& dy) { in[0].add_grad(sigmoid_backward(dy, yv)); });
}

Variable max_pool2d(const Variable& x, int kernel, int stride, int pad) {
  MaxPool2dResult r = max_pool2d_forward(x.value(), kernel, stride, pad);
  Tensor argmax = r.argmax;
  Shape x_shape = x.value().shape();
  return Variable(std::move(r.y), {x},
                  [argmax, x_shape, kernel, stride, pad](std::vector<Variable>& in, const Tensor& dy) {
                    in[0].add_grad(max_pool2d_backward(dy, argmax, x_shape, kernel, stride, pad));
                  });
}

Variable global_avg_pool(const Variable& x) {
  Shape x_shape = x.value().shape();
  return Variable(global_avg_pool_forward(x.value()), {x}, [x_shape](std::vector<Variable>& in, const Tensor& dy) {
    in[0].add_grad(global_avg_pool_backward(dy, x_shape));
  });
}

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  OpScope op("linear");
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  SGML_CHECK(xv.ndim() == 2 && wv.ndim() == 2 && xv.dim(1) == wv.dim(1), "linear: input ", shape_str(xv.shape()),
             " does not match weight ", shape_str(wv.shape()), " (expected input (N,", wv.ndim() == 2 ? wv.dim(1) : -1,
             "))");
  Tensor y = matmul(xv, false, wv, true);  // (N,Out)
  if (b.defined()) add_row_bias(y, b.value());
  Tensor xs = xv, ws = wv;
  std::vector<Variable> inputs{x, w};
  if (b.defined()) inputs.push_back(b);
  return Variable(std::move(y), std::move(inputs), [xs, ws](std::vector<Variable>& in, const Tensor& dy) {
    if (in[0].requires_grad()) in[0].add_grad(matmul(dy, false, ws, false));  // (N,Out)·(Out,In)
    if (in[1].requires_grad()) in[1].add_grad(matmul(dy, true, xs, false));   // (Out,N)·(N,In)
    if (in.size() > 2 && in[2].requires_grad()) in[2].add_grad(sum_rows(dy));
  });
}

Variable scale_columns(const Variable& x, const Variable& v) {
  Tensor xs = x.value(), vs = v.value();
  return Variable(sgml::scale_columns(xs, vs), {x, v}, [xs, vs](std::vector<Variable>& in, const Tensor& dy) {
    if (in[0].requires_grad()) in[0].add_grad(sgml::scale_columns(dy, vs));
    if (in[1].requires_grad()) in[1].add_grad(column_dots(dy, xs).reshape(vs.shape()));
  });
}

Variable add(const Variable& a, const Variable& b) {
  return Variable(sgml::add(a.value(), b.value()), {a, b}, [](std::vector<Variable>& in, const Tensor& dy) {
    in[0].add_grad(dy);
    in[1].add_grad(dy);
  });
}

Variable dropout(const Variable& x, float p, uint64_t seed) {
  if (p == 0.0f) return x;
  return Variable(dropout_forward(x.value(), p, seed), {x}, [p, seed](std::vector<Variable>& in, const Tensor& dy) {
    in[0].add_grad(dropout_forward(dy, p, seed));
  });
}

Variable l2_normalize(const Variable& x) {
  L2NormalizeResult r = l2_normalize_forward(x.value());
  Tensor yv = r.y, norms = r.norms;
  return Variable(std::move(r.y), {x}, [yv, norms](std::vector<Variable>& in, const Tensor& dy) {
    in[0].add_grad(l2_normalize_backward(dy, yv, norms));
  });
}

Variable matmul(const Variable& a, bool transpose_a, const Variable& b, bool transpose_b) {
  Tensor av = a.value(), bv = b.value();
  Tensor c = sgml::matmul(av, transpose_a, bv, transpose_b);
  return Variable(std::move(c), {a, b},
                  [av, bv, transpose_a, transpose_b](std::vector<Variable>& in, const Tensor& dc) {
                    // C = op(A) op(B): dop(A) = dC · op(B)ᵀ, dop(B) = op(A)ᵀ · dC; transposing back gives dA and dB.
                    if (in[0].requires_grad())
                      in[0].add_grad(transpose_a ? sgml::matmul(bv, transpose_b, dc, true)
                                                 : sgml::matmul(dc, false, bv, !transpose_b));
                    if (in[1].requires_grad())
                      in[1].add_grad(transpose_b ? sgml::matmul(dc, true, av, transpose_a)
                                                 : sgml::matmul(av, !transpose_a, dc, false));
                  });
}

}  // namespace sgml::fn
