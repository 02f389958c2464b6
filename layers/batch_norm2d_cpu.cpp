// CPU batch norm. Per-channel sums are accumulated in double: a channel of ResNet's first stage at batch 164 has
// 164*112*112 = 2M values, where float accumulation would lose digits PyTorch keeps.
#include <algorithm>
#include <cmath>
#include <vector>

#include "layers/batch_norm2d.h"

namespace sgml::cpu {

namespace {
// y[i] = relu?(x[i] * scale + shift + residual?[i]) over one (n, c) plane of hw values.
void apply_plane(float* y, const float* x, const float* residual, bool relu, float scale, float shift, int hw) {
  for (int i = 0; i < hw; ++i) {
    float v = x[i] * scale + shift;
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
    const float scale = float(invstd) * gamma[c], shift = beta[c] - float(mean) * scale;
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
      const float scale = gamma[c] / std::sqrt(running_var[c] + eps), shift = beta[c] - running_mean[c] * scale;
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      apply_plane(y + off, x + off, e.residual ? e.residual + off : nullptr, e.relu, scale, shift, s.hw);
    }
}

namespace {

// Shared by both backwards: dgamma = sum dy * xhat, dbeta = sum dy (C) in double, and dx (N,C,H,W) either through the
// batch statistics (training: they depend on x) or with the statistics held fixed (frozen, eval mode).
void backward_per_channel(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* gamma,
                          const float* mean, const double* invstd, bool frozen, const BatchNormShape& s) {
  const int64_t m = int64_t(s.n) * s.hw;
#pragma omp parallel for
  for (int c = 0; c < s.c; ++c) {
    const double mu = mean[c], is = invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int n = 0; n < s.n; ++n) {
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) {
        sum_dy += dy[off + i];
        sum_dy_xhat += dy[off + i] * (x[off + i] - mu) * is;
      }
    }
    dbeta[c] = float(sum_dy);
    dgamma[c] = float(sum_dy_xhat);
    if (frozen) {  // y = gamma * (x - running_mean) * invstd + beta: dx = gamma * invstd * dy
      const double k = double(gamma[c]) * is;
      for (int n = 0; n < s.n; ++n) {
        const int64_t off = (int64_t(n) * s.c + c) * s.hw;
        for (int i = 0; i < s.hw; ++i) dx[off + i] = float(k * double(dy[off + i]));
      }
      continue;
    }
    // dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat))
    const double k = double(gamma[c]) * is / m;
    for (int n = 0; n < s.n; ++n) {
      const int64_t off = (int64_t(n) * s.c + c) * s.hw;
      for (int i = 0; i < s.hw; ++i) {
        const double xhat = (x[off + i] - mu) * is;
        dx[off + i] = float(k * (m * double(dy[off + i]) - sum_dy - xhat * sum_dy_xhat));
      }
    }
  }
}

}  // namespace

void batch_norm2d_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           const BatchNormShape& s) {
  // The float saved invstd, widened: the value the forward used.
  std::vector<double> invstd(save_invstd, save_invstd + s.c);
  backward_per_channel(dx, dgamma, dbeta, dy, x, gamma, save_mean, invstd.data(), false, s);
}

void batch_norm2d_backward_frozen(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* gamma, const float* running_mean, const float* running_var, float eps,
                                  const BatchNormShape& s) {
  std::vector<double> invstd(size_t(std::max(s.c, 0)));
  // Rounded to float as the training forward saves it, so that the CUDA twin (which keeps it in a float buffer)
  // computes the same values.
  for (int c = 0; c < s.c; ++c) invstd[size_t(c)] = float(1.0 / std::sqrt(double(running_var[c]) + eps));
  backward_per_channel(dx, dgamma, dbeta, dy, x, gamma, running_mean, invstd.data(), true, s);
}

}  // namespace sgml::cpu
