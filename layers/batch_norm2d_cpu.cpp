// CPU batch norm. Per-channel sums are accumulated in double: a channel of ResNet's first stage at batch 164 has
// 164*112*112 = 2M values, where float accumulation would lose digits PyTorch keeps.
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

// y[i] = relu?(x[i] * scale + shift + residual?[i]) over one (n, c) plane of hw values.
void apply_plane(float* y, const float* x, const float* residual, bool relu, float scale, float shift, int hw) {
  for (int i = 0; i < hw; ++i) {
    float v = affine(x[i], scale, shift);
    if (residual) v += residual[i];
    y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}
}  // namespace

void batch_norm2d_forward_train(float* y, float* save_mean, float* save_invstd, const float* x, const float* gamma,
                                const float* beta, float* running_mean, float* running_var, float momentum, float eps,
                                const BatchNormShape& s, const BatchNormEpilogue& e) {
  const int64_t m = int64_t(s.n) * s.hw;
#pragma omp parallel for
  for (int c = 0; c < s.c; ++c) {
    double sum = 0;
    for (int n = 0; n < s.n; ++n) {
      const float* p = x + (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) sum += p[i];
    }
    const double mean = sum / m;
    double sq = 0;  // two passes: the variance of values far from zero stays exact
    for (int n = 0; n < s.n; ++n) {
      const float* p = x + (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) sq += (p[i] - mean) * (p[i] - mean);
    }
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

// Shared by both backwards: dgamma = sum g * xhat, dbeta = sum g (C) in double, and dx (N,C,H,W) either through the
// batch statistics (training: they depend on x) or with the statistics held fixed (frozen, eval mode); g is dy
// where the ReLU mask passes, else 0.
void backward_per_channel(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                          const float* mean, const double* invstd, bool frozen, const ReluMask& mask,
                          const BatchNormShape& s) {
  const int64_t m = int64_t(s.n) * s.hw;
#pragma omp parallel for
  for (int c = 0; c < s.c; ++c) {
    const double mu = mean[c], is = invstd[c];
    const bool masked = !mask.scale.empty();
    const float scale = masked ? mask.scale[size_t(c)] : 0.0f, shift = masked ? mask.shift[size_t(c)] : 0.0f;
    const auto g = [&](int64_t at) { return !masked || affine(x[at], scale, shift) > 0.0f ? dy[at] : 0.0f; };
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int n = 0; n < s.n; ++n) {
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) {
        const float gi = g(off + i);
        sum_dy += gi;
        sum_dy_xhat += gi * (x[off + i] - mu) * is;
      }
    }
    dbeta[c] = float(sum_dy);
    dgamma[c] = float(sum_dy_xhat);
    if (frozen) {  // y = gamma * (x - running_mean) * invstd + beta: dx = gamma * invstd * g
      const double k = double(gamma[c]) * is;
      for (int n = 0; n < s.n; ++n) {
        const int64_t off = (int64_t(n) * s.c + c) * s.hw;
        for (int i = 0; i < s.hw; ++i) dx[off + i] = float(k * double(g(off + i)));
      }
      continue;
    }
    // dx = gamma*invstd/M * (M*g - sum(g) - xhat*sum(g*xhat))
    const double k = double(gamma[c]) * is / m;
    for (int n = 0; n < s.n; ++n) {
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) {
        const double xhat = (x[off + i] - mu) * is;
        dx[off + i] = float(k * (m * double(g(off + i)) - sum_dy - xhat * sum_dy_xhat));
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
