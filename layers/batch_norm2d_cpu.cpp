// CPU batch norm. Per-channel sums are accumulated in double: a channel of ResNet's first stage at batch 164 has
// 164*112*112 = 2M values, where float accumulation would lose digits PyTorch keeps. The inner loops are `omp simd`
// reductions: the compiler splits each sum into vector lanes (a fixed order, so results are deterministic), where a
// single double accumulator would wait on each add's latency (measured: the batch norm took 57 ms of a 330 ms
// ResNet-18 step at 64 px, PyTorch's 20 ms).
#include <algorithm>
#include <cmath>
#include <vector>

#include "layers/batch_norm2d.h"

namespace sgml::cpu {

namespace {
// The forwards' affine map per channel, in float as the CUDA twin computes it. Training (the batch's statistics, as
// saved): scale = invstd * gamma, shift = beta - mean * scale.
void train_affine(int c, const float* gamma, const float* beta, const float* mean, const float* invstd, float& scale,
                  float& shift) {
  scale = invstd[c] * gamma[c];
  shift = beta[c] - mean[c] * scale;
}
// Inference: scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale.
void eval_affine(int c, const float* gamma, const float* beta, const float* running_mean, const float* running_var,
                 float eps, float& scale, float& shift) {
  scale = gamma[c] / std::sqrt(running_var[c] + eps);
  shift = beta[c] - running_mean[c] * scale;
}
// bn(x): a rounded product, then a rounded sum (the build targets baseline x86-64, which has no FMA to contract to).
inline float affine(float x, float scale, float shift) { return x * scale + shift; }

// y[i] = relu?(x[i] * scale + shift + residual?[i]) over one (n, c) plane of hw values; one loop per case, so that
// each vectorises without a branch inside. std::max(v, 0) is v < 0 ? 0 : v: NaN and -0 pass, as relu_forward.
void apply_plane(float* y, const float* x, const float* residual, bool relu, float scale, float shift, int hw) {
  if (residual && relu) {
#pragma omp simd
    for (int i = 0; i < hw; ++i) y[i] = std::max(affine(x[i], scale, shift) + residual[i], 0.0f);
  } else if (residual) {
#pragma omp simd
    for (int i = 0; i < hw; ++i) y[i] = affine(x[i], scale, shift) + residual[i];
  } else if (relu) {
#pragma omp simd
    for (int i = 0; i < hw; ++i) y[i] = std::max(affine(x[i], scale, shift), 0.0f);
  } else {
#pragma omp simd
    for (int i = 0; i < hw; ++i) y[i] = affine(x[i], scale, shift);
  }
}

// sum of p[i] and sum of (p[i] - mean)^2 over hw values, in double.
double plane_sum(const float* p, int hw) {
  double sum = 0;
#pragma omp simd simdlen(8) reduction(+ : sum)
  for (int i = 0; i < hw; ++i) sum += p[i];
  return sum;
}
double plane_squared_deviation(const float* p, double mean, int hw) {
  double sq = 0;
#pragma omp simd simdlen(8) reduction(+ : sq)
  for (int i = 0; i < hw; ++i) sq += (p[i] - mean) * (p[i] - mean);
  return sq;
}
}  // namespace

void batch_norm2d_forward_train(float* y, float* save_mean, float* save_invstd, const float* x, const float* gamma,
                                const float* beta, float* running_mean, float* running_var, float momentum, float eps,
                                const BatchNormShape& s, const BatchNormEpilogue& e) {
  const int64_t m = int64_t(s.n) * s.hw;
#pragma omp parallel for
  for (int c = 0; c < s.c; ++c) {
    double sum = 0;
    for (int n = 0; n < s.n; ++n) sum += plane_sum(x + (int64_t(n) * s.c + c) * s.hw, s.hw);
    const double mean = sum / m;
    double sq = 0;  // two passes: the variance of values far from zero stays exact
    for (int n = 0; n < s.n; ++n) sq += plane_squared_deviation(x + (int64_t(n) * s.c + c) * s.hw, mean, s.hw);
    const double var = sq / m;
    const double invstd = 1.0 / std::sqrt(var + eps);
    save_mean[c] = float(mean);
    save_invstd[c] = float(invstd);
    running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * var * m / (m - 1));
    float scale, shift;
    train_affine(c, gamma, beta, save_mean, save_invstd, scale, shift);
    for (int n = 0; n < s.n; ++n) {
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      apply_plane(y + off, x + off, e.residual ? e.residual + off : nullptr, e.relu, scale, shift, s.hw);
    }
  }
}

void batch_norm2d_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               const BatchNormShape& s, const BatchNormEpilogue& e) {
#pragma omp parallel for collapse(2)
  for (int n = 0; n < s.n; ++n)
    for (int c = 0; c < s.c; ++c) {
      float scale, shift;
      eval_affine(c, gamma, beta, running_mean, running_var, eps, scale, shift);
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      apply_plane(y + off, x + off, e.residual ? e.residual + off : nullptr, e.relu, scale, shift, s.hw);
    }
}

namespace {

// The ReLU's mask of a forward that ended in relu(bn(x)): per channel the forward's scale and shift (empty: no mask).
struct ReluMask {
  std::vector<float> scale, shift;
};

// g = 0 where the ReLU mask stops (x * scale + shift <= 0; NaN passes, as relu_backward), else dy, over one plane;
// without a mask g is dy.
void masked_gradient(float* g, const float* dy, const float* x, const float* scale_shift, int hw) {
  if (!scale_shift) {
    std::copy(dy, dy + hw, g);
    return;
  }
  const float scale = scale_shift[0], shift = scale_shift[1];
#pragma omp simd
  for (int i = 0; i < hw; ++i) {
    const float d = dy[i];  // loaded whether used or not: a select, not a branch the mask's signs would mispredict
    g[i] = affine(x[i], scale, shift) <= 0.0f ? 0.0f : d;
  }
}

// Shared by both backwards: dgamma = sum g * xhat, dbeta = sum g (C) in double, and dx (N,C,H,W) either through the
// batch statistics (training: they depend on x) or with the statistics held fixed (frozen, eval mode); g is dy
// where the ReLU mask passes, else 0. g is formed one plane at a time in a buffer of the thread's own.
void backward_per_channel(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                          const float* mean, const double* invstd, bool frozen, const ReluMask& mask,
                          const BatchNormShape& s) {
  const int64_t m = int64_t(s.n) * s.hw;
#pragma omp parallel
  {
    std::vector<float> g(size_t(std::max(s.hw, 0)));
#pragma omp for
    for (int c = 0; c < s.c; ++c) {
      const double mu = mean[c], is = invstd[c];
      const float scale_shift[2] = {mask.scale.empty() ? 0.0f : mask.scale[size_t(c)],
                                    mask.shift.empty() ? 0.0f : mask.shift[size_t(c)]};
      const float* relu_mask = mask.scale.empty() ? nullptr : scale_shift;
      double sum_dy = 0, sum_dy_xhat = 0;
      for (int n = 0; n < s.n; ++n) {
        const int64_t off = (int64_t(n) * s.c + c) * s.hw;
        masked_gradient(g.data(), dy + off, x + off, relu_mask, s.hw);
        const float* xp = x + off;
#pragma omp simd simdlen(8) reduction(+ : sum_dy, sum_dy_xhat)
        for (int i = 0; i < s.hw; ++i) {
          sum_dy += g[size_t(i)];
          sum_dy_xhat += g[size_t(i)] * (xp[i] - mu) * is;
        }
      }
      dbeta[c] = float(sum_dy);
      dgamma[c] = float(sum_dy_xhat);
      // Frozen: y = gamma * (x - running_mean) * invstd + beta, so dx = gamma * invstd * g; x does not enter it (an
      //         infinite or NaN x gives a finite dx, as in PyTorch).
      // Training: dx = gamma*invstd/M * (M*g - sum(g) - xhat*sum(g*xhat))
      //              = a * g - b * (x - mean) - e, with the per-channel factors below formed in double and the
      //          per-element work in float, as PyTorch computes it (x - mean first: no cancellation when the mean is
      //          large beside the spread).
      const double k = double(gamma[c]) * is;
      const float a = float(k), mu_f = float(mu);
      const float b = float(k / m * sum_dy_xhat * is), e = float(k / m * sum_dy);
      for (int n = 0; n < s.n; ++n) {
        const int64_t off = (int64_t(n) * s.c + c) * s.hw;
        masked_gradient(g.data(), dy + off, x + off, relu_mask, s.hw);
        const float* xp = x + off;
        float* dxp = dx + off;
        if (frozen) {
#pragma omp simd
          for (int i = 0; i < s.hw; ++i) dxp[i] = a * g[size_t(i)];
        } else {
#pragma omp simd
          for (int i = 0; i < s.hw; ++i) dxp[i] = a * g[size_t(i)] - b * (xp[i] - mu_f) - e;
        }
      }
    }
  }
}

}  // namespace

void batch_norm2d_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           const float* relu_beta, const BatchNormShape& s) {
  // The float saved invstd, widened: the value the forward used.
  std::vector<double> invstd(save_invstd, save_invstd + s.c);
  ReluMask mask;
  if (relu_beta) {
    mask.scale.resize(size_t(s.c));
    mask.shift.resize(size_t(s.c));
    for (int c = 0; c < s.c; ++c)
      train_affine(c, gamma, relu_beta, save_mean, save_invstd, mask.scale[size_t(c)], mask.shift[size_t(c)]);
  }
  backward_per_channel(dx, dgamma, dbeta, dy, x, gamma, save_mean, invstd.data(), false, mask, s);
}

void batch_norm2d_backward_frozen(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* gamma, const float* running_mean, const float* running_var, float eps,
                                  const float* relu_beta, const BatchNormShape& s) {
  std::vector<double> invstd(size_t(std::max(s.c, 0)));
  // Rounded to float as the training forward saves it, so that the CUDA twin (which keeps it in a float buffer)
  // computes the same values.
  for (int c = 0; c < s.c; ++c) invstd[size_t(c)] = float(1.0 / std::sqrt(double(running_var[c]) + eps));
  ReluMask mask;
  if (relu_beta) {
    mask.scale.resize(size_t(s.c));
    mask.shift.resize(size_t(s.c));
    for (int c = 0; c < s.c; ++c)
      eval_affine(c, gamma, relu_beta, running_mean, running_var, eps, mask.scale[size_t(c)], mask.shift[size_t(c)]);
  }
  backward_per_channel(dx, dgamma, dbeta, dy, x, gamma, running_mean, invstd.data(), true, mask, s);
}

}  // namespace sgml::cpu
