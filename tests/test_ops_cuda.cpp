// CUDA twins against CPU twins on fresh random inputs, table-driven as ggml's test-backend-ops: one OpCase per
// line, each its own test. A case runs the op on the CPU and on the GPU through the public Tensor-level API, and on
// the GPU once more through the raw cuda:: function writing into outputs filled with NaN first, which proves that
// the kernel writes every value (outputs the public API takes are NaN-filled there already). Relative error
// ||cuda - cpu|| / ||cpu|| must be under 1e-4 (float against float; cuDNN's algorithms and cuBLAS sum in other
// orders than im2col + OpenBLAS, typically 1e-7..1e-5), or zero for ops with the same arithmetic in the same order.
// Deterministic ops must also give the same bits twice. Every test skips without a GPU (fails with
// SGML_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cctype>
#include <climits>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/check.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/gemm.h"
#include "layers/global_avg_pool.h"
#include "layers/l2_normalize.h"
#include "layers/max_pool2d.h"
#include "tests/support/test_support.h"

// The raw cuda:: twins exist only in a CUDA build; in a CPU build every test skips before reaching them, and the
// call stays in an unevaluated sizeof, which neither runs nor links it. A raw twin runs on the current device (see
// engine/dispatch.h): each case calls it after the public op on the same device, which made that device current.
#ifdef SGML_WITH_CUDA
#define SGML_CUDA_TWIN(...) __VA_ARGS__
#else
#define SGML_CUDA_TWIN(...)                           \
  do {                                                \
    (void)sizeof((__VA_ARGS__, 0));                   \
    SGML_FAIL("the cuda:: twins need a CUDA build");  \
  } while (0)
#endif

using namespace sgml;

namespace {

constexpr double kTolerance = 1e-4;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Named outputs. On the GPU the public API's outputs come first, then the raw twin's under the same names.
using Outputs = std::vector<std::pair<std::string, Tensor>>;

struct OpCase {
  std::string name;
  std::function<Outputs(Device)> run;  // the op on `device`, from inputs seeded by the case
  bool exact = false;                  // CUDA equals CPU bit for bit (same arithmetic in the same order)
  bool deterministic = true;           // two CUDA runs give the same bits
};

Tensor input(const Shape& shape, unsigned seed, Device d, float lo = -1.0f, float hi = 1.0f) {
  return test::random_tensor(shape, seed, lo, hi).to(d);
}
Tensor nan_tensor(const Shape& shape, Device d) { return Tensor::full(shape, kNaN, d); }

// An int32 tensor full of an index no kernel writes, and int32 indices as floats (exact below 2^24) to compare.
Tensor poisoned_indices(const Shape& shape, Device d) {
  Tensor host = Tensor::empty(shape, Device::cpu(), DType::I32);
  int32_t* p = static_cast<int32_t*>(host.raw_data());
  for (int64_t i = 0; i < host.numel(); ++i) p[i] = INT_MIN;
  return host.to(d);
}
Tensor indices_as_float(const Tensor& indices) {
  const Tensor host = indices.to(Device::cpu());
  const int32_t* p = static_cast<const int32_t*>(host.raw_data());
  std::vector<float> v(size_t(host.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(p[i]);
  return Tensor::from_vector(v, host.shape());
}

std::string shape_name(const Shape& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// ---------------------------------------------------------------- the cases

OpCase conv_case(const Shape& xs, const Shape& ws, int stride, int pad) {
  OpCase c{str_cat("conv2d_", shape_name(xs), "_w", shape_name(ws), "_s", stride, "_p", pad),
           [=](Device d) {
             const Tensor x = input(xs, 1, d), w = input(ws, 2, d);
             const Tensor y = conv2d_forward(x, w, stride, pad);
             const Tensor dy = input(y.shape(), 3, d);
             // The gradients also added into prior values (the tape's fan-in; cuDNN's beta = 1).
             Tensor dx_sum = input(xs, 4, d), dw_sum = input(ws, 5, d);
             conv2d_backward_data_into(dx_sum, dy, w, stride, pad, true);
             conv2d_backward_filter_into(dw_sum, dy, x, stride, pad, true);
             Outputs out{{"y", y},
                         {"dx", conv2d_backward_data(dy, w, xs, stride, pad)},
                         {"dw", conv2d_backward_filter(dy, x, ws, stride, pad)},
                         {"dx_added", dx_sum},
                         {"dw_added", dw_sum}};
             if (d.is_cuda()) {
               const Conv2dGeometry g = conv2d_geometry(xs, ws, stride, pad);
               Tensor y2 = nan_tensor(y.shape(), d), dx2 = nan_tensor(xs, d), dw2 = nan_tensor(ws, d);
               SGML_CUDA_TWIN(cuda::conv2d_forward(y2.data(), x.data(), w.data(), g));
               SGML_CUDA_TWIN(cuda::conv2d_backward_data(dx2.data(), dy.data(), w.data(), g, false));
               SGML_CUDA_TWIN(cuda::conv2d_backward_filter(dw2.data(), dy.data(), x.data(), g, false));
               out.insert(out.end(), {{"y", y2}, {"dx", dx2}, {"dw", dw2}});
             }
             return out;
           }};
  c.deterministic = false;  // cuDNN may pick atomics-based backward algorithms
  return c;
}

// Training forward (y, saved and running statistics), backward, and inference with the updated running stats.
// On the GPU the raw twins run once more from the same inputs, writing into outputs filled with NaN. fused: both
// forwards with the epilogue relu(bn(x) + residual), and both backwards with the ReLU mask recomputed from x.
OpCase batch_norm_case(const Shape& xs, float lo, float hi, bool fused = false) {
  return {str_cat("batch_norm2d_", shape_name(xs), lo > 1.0f ? "_far_from_zero" : "", fused ? "_add_relu" : ""),
          [=](Device d) {
            const Shape cs{xs[1]};
            const Tensor x = input(xs, 11, d, lo, hi), gamma = input(cs, 12, d, 0.5f, 1.5f), beta = input(cs, 13, d);
            const Tensor residual = fused ? input(xs, 17, d) : Tensor();
            Tensor running_mean = input(cs, 14, d), running_var = input(cs, 15, d, 0.5f, 2.0f);
            const BatchNormTrainResult t = batch_norm2d_forward_train(x, gamma, beta, running_mean, running_var, 0.1f,
                                                                      1e-5f, residual, fused);
            const Tensor dy = input(xs, 16, d);
            const Tensor relu_beta = fused ? beta : Tensor();
            const BatchNormGrads g = batch_norm2d_backward(dy, x, gamma, t.save_mean, t.save_invstd, relu_beta);
            const Tensor y_eval =
                batch_norm2d_forward_eval(x, gamma, beta, running_mean, running_var, 1e-5f, residual, fused);
            // Frozen batch norm's backward (eval mode, statistics held fixed).
            const BatchNormGrads f =
                batch_norm2d_backward_frozen(dy, x, gamma, running_mean, running_var, 1e-5f, relu_beta);
            Outputs out{{"y", t.y}, {"save_mean", t.save_mean}, {"save_invstd", t.save_invstd},
                        {"running_mean", running_mean}, {"running_var", running_var},
                        {"dx", g.dx}, {"dgamma", g.dgamma}, {"dbeta", g.dbeta}, {"y_eval", y_eval},
                        {"dx_frozen", f.dx}, {"dgamma_frozen", f.dgamma}, {"dbeta_frozen", f.dbeta}};
            if (d.is_cuda()) {
              const BatchNormShape s{int(xs[0]), int(xs[1]), int(xs[2] * xs[3])};
              const BatchNormEpilogue e{fused ? residual.data() : nullptr, fused};
              Tensor rm = input(cs, 14, d), rv = input(cs, 15, d, 0.5f, 2.0f);  // the running stats before the step
              Tensor y = nan_tensor(xs, d), mean = nan_tensor(cs, d), invstd = nan_tensor(cs, d);
              Tensor dx = nan_tensor(xs, d), dgamma = nan_tensor(cs, d), dbeta = nan_tensor(cs, d);
              Tensor y_ev = nan_tensor(xs, d), dx_f = nan_tensor(xs, d), dgamma_f = nan_tensor(cs, d),
                     dbeta_f = nan_tensor(cs, d);
              SGML_CUDA_TWIN(cuda::batch_norm2d_forward_train(y.data(), mean.data(), invstd.data(), x.data(),
                                                              gamma.data(), beta.data(), rm.data(), rv.data(), 0.1f,
                                                              1e-5f, s, e));
              const float* mask_beta = fused ? beta.data() : nullptr;
              SGML_CUDA_TWIN(cuda::batch_norm2d_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(),
                                                         gamma.data(), mean.data(), invstd.data(), mask_beta, s));
              SGML_CUDA_TWIN(cuda::batch_norm2d_forward_eval(y_ev.data(), x.data(), gamma.data(), beta.data(),
                                                             rm.data(), rv.data(), 1e-5f, s, e));
              SGML_CUDA_TWIN(cuda::batch_norm2d_backward_frozen(dx_f.data(), dgamma_f.data(), dbeta_f.data(),
                                                                dy.data(), x.data(), gamma.data(), rm.data(),
                                                                rv.data(), 1e-5f, mask_beta, s));
              out.insert(out.end(), {{"y", y}, {"save_mean", mean}, {"save_invstd", invstd},
                                     {"running_mean", rm}, {"running_var", rv},
                                     {"dx", dx}, {"dgamma", dgamma}, {"dbeta", dbeta}, {"y_eval", y_ev},
                                     {"dx_frozen", dx_f}, {"dgamma_frozen", dgamma_f}, {"dbeta_frozen", dbeta_f}});
            }
            return out;
          }};
}

// quantize: values on a grid of 0.5, so that windows hold ties and the first maximum must win.
OpCase max_pool_case(const Shape& xs, int kernel, int stride, int pad, float lo, float hi, bool quantize) {
  OpCase c{str_cat("max_pool2d_", shape_name(xs), "_k", kernel, "_s", stride, "_p", pad, quantize ? "_ties" : "",
                   hi < 0.0f ? "_negative" : ""),
           [=](Device d) {
             Tensor host = test::random_tensor(xs, 21, lo, hi);
             if (quantize)
               for (int64_t i = 0; i < host.numel(); ++i) host.data()[i] = std::round(host.data()[i] * 2.0f) / 2.0f;
             const Tensor x = host.to(d);
             const MaxPool2dResult r = max_pool2d_forward(x, kernel, stride, pad);
             const Tensor y = r.y, argmax = r.argmax;
             const Tensor dy = input(y.shape(), 22, d);
             Outputs out{{"y", y},
                         {"argmax", indices_as_float(argmax)},
                         {"dx", max_pool2d_backward(dy, argmax, xs, kernel, stride, pad)}};
             if (d.is_cuda()) {
               const Pool2dGeometry g{int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3]), kernel, stride, pad};
               Tensor y2 = nan_tensor(y.shape(), d), argmax2 = poisoned_indices(y.shape(), d), dx2 = nan_tensor(xs, d);
               int32_t* idx = static_cast<int32_t*>(argmax2.raw_data());
               SGML_CUDA_TWIN(cuda::max_pool2d_forward(y2.data(), idx, x.data(), g));
               SGML_CUDA_TWIN(cuda::max_pool2d_backward(dx2.data(), dy.data(), idx, g));
               out.insert(out.end(), {{"y", y2}, {"argmax", indices_as_float(argmax2)}, {"dx", dx2}});
             }
             return out;
           }};
  c.exact = true;  // comparisons only, and the backward adds in the CPU's order
  return c;
}

OpCase global_avg_pool_case(const Shape& xs) {
  return {str_cat("global_avg_pool_", shape_name(xs)), [=](Device d) {
            const Tensor x = input(xs, 31, d), dy = input({xs[0], xs[1]}, 32, d);
            Outputs out{{"y", global_avg_pool_forward(x)}, {"dx", global_avg_pool_backward(dy, xs)}};
            if (d.is_cuda()) {
              const int planes = int(xs[0] * xs[1]), hw = int(xs[2] * xs[3]);
              Tensor y2 = nan_tensor({xs[0], xs[1]}, d), dx2 = nan_tensor(xs, d);
              SGML_CUDA_TWIN(cuda::global_avg_pool_forward(y2.data(), x.data(), planes, hw));
              SGML_CUDA_TWIN(cuda::global_avg_pool_backward(dx2.data(), dy.data(), planes, hw));
              out.insert(out.end(), {{"y", y2}, {"dx", dx2}});
            }
            return out;
          }};
}

// C (m,n) = alpha op(A) op(B) + beta C; with beta = 0, C starts as NaN and must not be read.
OpCase gemm_case(int m, int n, int k, bool ta, bool tb, float alpha, float beta) {
  return {str_cat("gemm_", m, "x", n, "x", k, ta ? "_At" : "_A", tb ? "_Bt" : "_B", beta == 0.0f ? "" : "_beta"),
          [=](Device d) {
            const Tensor a = input(ta ? Shape{k, m} : Shape{m, k}, 41, d);
            const Tensor b = input(tb ? Shape{n, k} : Shape{k, n}, 42, d);
            Tensor c = beta == 0.0f ? nan_tensor({m, n}, d) : input({m, n}, 43, d);
            gemm(c, a, ta, b, tb, alpha, beta);
            return Outputs{{"c", c}};
          }};
}

// Elementwise ops over n values; the in-place ones have no output of their own to fill with NaN.
OpCase add_case(int64_t n) {
  OpCase c{str_cat("add_", n), [=](Device d) {
             const Tensor a = input({n}, 51, d), b = input({n}, 52, d);
             Tensor y = add(a, b), a2 = a.clone();
             add_inplace(a2, b);
             Outputs out{{"add", y}, {"add_inplace", a2}};
             if (d.is_cuda()) {
               Tensor y2 = nan_tensor({n}, d);
               SGML_CUDA_TWIN(cuda::add(y2.data(), a.data(), b.data(), n));
               out.push_back({"add", y2});
             }
             return out;
           }};
  c.exact = true;
  return c;
}

OpCase scale_case(int64_t n) {
  OpCase c{str_cat("scale_inplace_", n), [=](Device d) {
             Tensor a = input({n}, 53, d);
             scale_inplace(a, -0.37f);
             return Outputs{{"a", a}};
           }};
  c.exact = true;
  return c;
}

// x holds ReLU's edges (NaN, -0, infinities) where it has room: both twins keep PyTorch's relu(NaN) = NaN and pass
// the gradient where y is NaN.
OpCase relu_case(int64_t n) {
  OpCase c{str_cat("relu_", n), [=](Device d) {
             Tensor host_x = test::random_tensor({n}, 54);
             const float edges[] = {kNaN, -0.0f, std::numeric_limits<float>::infinity(),
                                    -std::numeric_limits<float>::infinity()};
             for (int64_t i = 0; i < std::min<int64_t>(n, 4); ++i) host_x.data()[i * (n / 4)] = edges[i];
             const Tensor x = host_x.to(d), dy = input({n}, 55, d);
             const Tensor y = relu_forward(x);
             Outputs out{{"y", y}, {"dx", relu_backward(dy, y)}};
             // From the second value on: pointers 4 bytes past 16-byte alignment (the kernel's float-by-float path).
             if (n > 1) out.push_back({"dx_offset", relu_backward(dy.view(1, {n - 1}), y.view(1, {n - 1}))});
             if (d.is_cuda()) {
               Tensor y2 = nan_tensor({n}, d), dx2 = nan_tensor({n}, d);
               SGML_CUDA_TWIN(cuda::relu_forward(y2.data(), x.data(), n));
               SGML_CUDA_TWIN(cuda::relu_backward(dx2.data(), dy.data(), y.data(), n));
               out.insert(out.end(), {{"y", y2}, {"dx", dx2}});
             }
             return out;
           }};
  c.exact = true;
  return c;
}

// Logits up to +-30: the stable form must keep both tails.
OpCase sigmoid_case(int64_t n) {
  return {str_cat("sigmoid_", n), [=](Device d) {
            const Tensor x = input({n}, 56, d, -30.0f, 30.0f), dy = input({n}, 57, d);
            const Tensor y = sigmoid_forward(x);
            Outputs out{{"y", y}, {"dx", sigmoid_backward(dy, y)}};
            if (d.is_cuda()) {
              Tensor y2 = nan_tensor({n}, d), dx2 = nan_tensor({n}, d);
              SGML_CUDA_TWIN(cuda::sigmoid_forward(y2.data(), x.data(), n));
              SGML_CUDA_TWIN(cuda::sigmoid_backward(dx2.data(), dy.data(), y.data(), n));
              out.insert(out.end(), {{"y", y2}, {"dx", dx2}});
            }
            return out;
          }};
}

// add_row_bias (in place) and sum_rows over an (rows, cols) matrix.
OpCase rows_case(int rows, int cols) {
  OpCase c{str_cat("row_bias_and_sum_rows_", rows, "x", cols), [=](Device d) {
             const Tensor x = input({rows, cols}, 61, d), bias = input({cols}, 62, d);
             Tensor y = x.clone();
             add_row_bias(y, bias);
             Outputs out{{"add_row_bias", y}, {"sum_rows", sum_rows(x)}};
             if (d.is_cuda()) {
               Tensor s2 = nan_tensor({cols}, d);
               SGML_CUDA_TWIN(cuda::sum_rows(s2.data(), x.data(), rows, cols));
               out.push_back({"sum_rows", s2});
             }
             return out;
           }};
  c.exact = true;  // one add per value; column sums in row order on both
  return c;
}

// scale_columns and column_dots (the learned masks' op, layers/functional.h fn::scale_columns) over (rows, cols).
OpCase columns_case(int rows, int cols) {
  OpCase c{str_cat("scale_columns_and_column_dots_", rows, "x", cols), [=](Device d) {
             const Tensor x = input({rows, cols}, 63, d), v = input({cols}, 64, d), b = input({rows, cols}, 65, d);
             Outputs out{{"scale_columns", scale_columns(x, v)}, {"column_dots", column_dots(x, b)}};
             if (d.is_cuda()) {
               Tensor y2 = nan_tensor({rows, cols}, d), s2 = nan_tensor({cols}, d);
               SGML_CUDA_TWIN(cuda::scale_columns(y2.data(), x.data(), v.data(), rows, cols));
               SGML_CUDA_TWIN(cuda::column_dots(s2.data(), x.data(), b.data(), rows, cols));
               out.insert(out.end(), {{"scale_columns", y2}, {"column_dots", s2}});
             }
             return out;
           }};
  c.exact = true;  // one product per value; column sums of rounded products in row order on both
  return c;
}

// zero_row: row 0 is all zeros, so its norm is clamped to eps and its gradient is dy / eps.
OpCase l2_normalize_case(int rows, int cols, bool zero_row) {
  return {str_cat("l2_normalize_", rows, "x", cols, zero_row ? "_zero_row" : ""), [=](Device d) {
            Tensor host = test::random_tensor({rows, cols}, 71);
            if (zero_row)
              for (int c = 0; c < cols; ++c) host.data()[c] = 0.0f;
            const Tensor x = host.to(d), dy = input({rows, cols}, 72, d);
            const L2NormalizeResult r = l2_normalize_forward(x);
            const Tensor y = r.y, norms = r.norms;
            Outputs out{{"y", y}, {"norms", norms}, {"dx", l2_normalize_backward(dy, y, norms)}};
            if (d.is_cuda()) {
              Tensor y2 = nan_tensor({rows, cols}, d), norms2 = nan_tensor({rows}, d),
                     dx2 = nan_tensor({rows, cols}, d);
              SGML_CUDA_TWIN(cuda::l2_normalize_forward(y2.data(), norms2.data(), x.data(), rows, cols));
              SGML_CUDA_TWIN(cuda::l2_normalize_backward(dx2.data(), dy.data(), y.data(), norms.data(), rows, cols));
              out.insert(out.end(), {{"y", y2}, {"norms", norms2}, {"dx", dx2}});
            }
            return out;
          }};
}

std::vector<OpCase> all_cases() {
  std::vector<OpCase> cases;
  // ResNet's convolutions at small sizes: 3x3 stride 1 and 2, 1x1 stride-2 downsample, 7x7 stride-2 stem; odd
  // sizes, batch 1, a filter as large as the padded input, and more channels than a warp.
  for (const auto& [x, w, stride, pad] : std::vector<std::tuple<Shape, Shape, int, int>>{
           {{1, 3, 7, 9}, {4, 3, 3, 3}, 1, 1},     {{2, 5, 11, 10}, {6, 5, 3, 3}, 2, 1},
           {{3, 4, 9, 9}, {8, 4, 1, 1}, 2, 0},     {{2, 3, 23, 21}, {5, 3, 7, 7}, 2, 3},
           {{1, 16, 5, 5}, {7, 16, 3, 3}, 1, 0},   {{1, 2, 3, 3}, {3, 2, 5, 5}, 1, 1},
           {{4, 33, 14, 14}, {17, 33, 3, 3}, 1, 1}, {{1, 1, 1, 1}, {1, 1, 1, 1}, 1, 0},
           {{8, 64, 28, 28}, {64, 64, 3, 3}, 1, 1}})
    cases.push_back(conv_case(x, w, stride, pad));
  // Channels of one value per image (M = N), one split per channel with steps longer than a plane, several splits
  // with long and short planes, a mean far from zero, and ResNet-like stages.
  for (const Shape& x : std::vector<Shape>{{1, 3, 5, 7}, {2, 4, 1, 1}, {5, 7, 9, 11}, {64, 3, 7, 7}, {300, 2, 9, 9},
                                           {2, 5, 100, 103}, {8, 64, 56, 56}, {16, 8, 112, 112}, {3, 2048, 7, 7}})
    cases.push_back(batch_norm_case(x, -1.0f, 1.0f));
  cases.push_back(batch_norm_case({4, 6, 13, 13}, 20.0f, 21.0f));
  // The epilogue relu(bn(x) + residual): float4 planes (56x56, and 14x14 packed four to a block with a partial last
  // block), scalar planes (7x7, 9x11).
  for (const Shape& x : std::vector<Shape>{{8, 64, 56, 56}, {3, 33, 14, 14}, {3, 2048, 7, 7}, {5, 7, 9, 11}})
    cases.push_back(batch_norm_case(x, -1.0f, 1.0f, true));
  for (const auto& [x, kernel, stride, pad] : std::vector<std::tuple<Shape, int, int, int>>{
           {{1, 3, 7, 7}, 3, 2, 1}, {{2, 5, 12, 11}, 3, 2, 1}, {{3, 2, 8, 8}, 2, 2, 0}, {{2, 3, 9, 10}, 3, 1, 1},
           {{4, 64, 112, 112}, 3, 2, 1}})
    cases.push_back(max_pool_case(x, kernel, stride, pad, -1.0f, 1.0f, false));
  cases.push_back(max_pool_case({2, 4, 13, 13}, 3, 2, 1, -1.0f, 1.0f, true));
  cases.push_back(max_pool_case({2, 3, 9, 9}, 3, 1, 1, -1.0f, 1.0f, true));
  cases.push_back(max_pool_case({1, 2, 11, 11}, 3, 2, 1, -2.0f, -1.0f, false));  // padding (0) must not win
  for (const Shape& x : std::vector<Shape>{{1, 3, 7, 7}, {5, 7, 1, 1}, {3, 17, 13, 11}, {2, 2048, 7, 7}, {1, 1, 1, 1}})
    cases.push_back(global_avg_pool_case(x));
  for (const auto& [m, n, k] : std::vector<std::tuple<int, int, int>>{
           {1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {128, 257, 100}, {3, 4, 0}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        cases.push_back(gemm_case(m, n, k, ta, tb, 1.0f, 0.0f));
        cases.push_back(gemm_case(m, n, k, ta, tb, 0.5f, 2.0f));
      }
  for (int64_t n : {int64_t(1), int64_t(1000), int64_t((1 << 20) + 7)}) {
    cases.push_back(add_case(n));
    cases.push_back(scale_case(n));
    cases.push_back(relu_case(n));
    cases.push_back(sigmoid_case(n));
  }
  for (const auto& [rows, cols] : std::vector<std::pair<int, int>>{{1, 1}, {7, 13}, {300, 517}, {1, 5000}, {5000, 3}})
    cases.push_back(rows_case(rows, cols));
  for (const auto& [rows, cols] : std::vector<std::pair<int, int>>{{1, 1}, {7, 13}, {80, 128}, {5000, 3}})
    cases.push_back(columns_case(rows, cols));
  for (const auto& [rows, cols, zero_row] : std::vector<std::tuple<int, int, bool>>{
           {1, 1, false}, {7, 13, false}, {300, 512, false}, {5, 2049, false}, {4, 33, true}, {1, 8, true}})
    cases.push_back(l2_normalize_case(rows, cols, zero_row));
  return cases;
}

// ---------------------------------------------------------------- the check

// Index of the first value that differs, or -1. Two NaNs are equal (ReLU keeps NaN), so where a raw twin wrote
// over NaN, a value left unwritten can pass only where the CPU's value is NaN too.
int64_t first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return int64_t(i);
  return a.size() == b.size() ? -1 : int64_t(a.size());
}

class OpsCuda : public ::testing::TestWithParam<OpCase> {};
void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }  // gtest names the case by it, not its bytes

TEST_P(OpsCuda, MatchesCpu) {
  SGML_SKIP_WITHOUT_GPU();
  const OpCase& c = GetParam();
  const Outputs cpu = c.run(Device::cpu());
  const Outputs gpu = c.run(test::gpu());
  const std::map<std::string, Tensor> want(cpu.begin(), cpu.end());
  ASSERT_GE(gpu.size(), cpu.size());
  for (size_t i = 0; i < gpu.size(); ++i) {
    const auto& [name, got] = gpu[i];
    SCOPED_TRACE(name + (i < cpu.size() ? " (public API)" : " (cuda:: twin, written over NaN)"));
    ASSERT_TRUE(want.count(name));
    const Tensor& ref = want.at(name);
    ASSERT_EQ(got.shape(), ref.shape());
    if (c.exact) {
      const std::vector<float> g = got.to_vector(), r = ref.to_vector();
      const int64_t at = first_difference(g, r);
      EXPECT_EQ(at, -1) << "first difference at " << at << ": CUDA " << (at >= 0 ? g[at] : 0.0f) << ", CPU "
                        << (at >= 0 ? r[at] : 0.0f);
    } else {
      const double err = test::relative_error(got, ref);
      EXPECT_LT(err, kTolerance) << "CUDA vs CPU relative error " << err;
    }
  }
  if (c.deterministic) {
    const Outputs again = c.run(test::gpu());
    ASSERT_EQ(again.size(), gpu.size());
    for (size_t i = 0; i < gpu.size(); ++i)
      EXPECT_EQ(first_difference(again[i].second.to_vector(), gpu[i].second.to_vector()), -1)
          << gpu[i].first << ": a second CUDA run differs in bits";
  }
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpsCuda, ::testing::ValuesIn(all_cases()), case_name);

// ---------------------------------------------------------------- beyond the table

// More values than the largest grid has threads (blocks_for caps it), so the grid-stride loops go round again.
TEST(OpsCudaLarge, GridStrideLoopsCoverEveryValue) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN("it checks the CUDA kernels' grid-stride loops");
  const int64_t n = (int64_t(1) << 28) + 3;
  Tensor a = Tensor::full({n}, 1.5f, Device::cuda());
  const Tensor b = Tensor::full({n}, 2.0f, Device::cuda());
  scale_inplace(a, 2.0f);  // 3
  const std::vector<float> y = add(a, b).to_vector();
  EXPECT_EQ(first_difference(y, std::vector<float>(size_t(n), 5.0f)), -1);
}

using sgml::test::error_of;

TEST(OpsCudaErrors, FailedLibraryCallsAndAllocationsAreErrorsNamingFileAndLine) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN("it checks how failed CUDA library calls are reported");
  const Device gpu = Device::cuda();
  Tensor a = Tensor::zeros({2, 2}, gpu), b = Tensor::zeros({2, 2}, gpu), c = Tensor::zeros({2, 2}, gpu);

  // cuBLAS rejects a negative dimension: reported with the statement and gemm_cuda.cu's line.
  std::string what = error_of(
      [&] { SGML_CUDA_TWIN(cuda::gemm(c.data(), a.data(), false, b.data(), false, -1, 2, 2, 1.0f, 0.0f)); });
  EXPECT_NE(what.find("cuBLAS call failed: cublasSgemm"), std::string::npos) << what;
  EXPECT_NE(what.find("gemm_cuda.cu:"), std::string::npos) << what;

  // A 5x5 filter on a 1x1 image without padding (which the public function refuses) makes a negative output
  // size, which cuDNN rejects when the output's descriptor is set.
  const Tensor x = Tensor::zeros({1, 1, 1, 1}, gpu), w = Tensor::zeros({1, 1, 5, 5}, gpu);
  Tensor y = Tensor::zeros({1, 1, 1, 1}, gpu);
  const Conv2dGeometry g{1, 1, 1, 1, 1, 5, 5, 1, 0};
  what = error_of([&] { SGML_CUDA_TWIN(cuda::conv2d_forward(y.data(), x.data(), w.data(), g)); });
  EXPECT_NE(what.find("cuDNN call failed: cudnnSetTensor4dDescriptor"), std::string::npos) << what;
  EXPECT_NE(what.find("cudnn_descriptors.h:"), std::string::npos) << what;

  // 16 TiB cannot be allocated.
  what = error_of([&] { Tensor::empty({int64_t(1) << 42}, gpu); });
  EXPECT_NE(what.find("GPU allocation"), std::string::npos) << what;
  EXPECT_NE(what.find("gpu_memory_cuda.cpp:"), std::string::npos) << what;

  // Mismatched shapes stop at the public function's check, which names the op.
  what = error_of([&] { gemm(c, a, false, Tensor::zeros({3, 2}, gpu), false); });
  EXPECT_NE(what.find("inner dimensions differ"), std::string::npos) << what;
  EXPECT_NE(what.find("op gemm"), std::string::npos) << what;

  // The device still works after the failures.
  EXPECT_EQ(add(Tensor::full({3}, 1.0f, gpu), Tensor::full({3}, 2.0f, gpu)).to_vector(), std::vector<float>(3, 3.0f));
}

}  // namespace
