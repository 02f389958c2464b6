#include <cmath>
#include <cstring>
#include <vector>

#include "losses/margin_loss.h"
#include "losses/margin_math.h"

namespace sgml::cpu {

// The formulas are in margin_loss.h. Every function works one anchor row at a time (rows in parallel, each row's
// sums in column order), so the results do not depend on the threads.
void margin_negative_weights(float* W, const float* S, const int32_t* labels, const float* beta, int n, int dim,
                             float margin) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* s = S + int64_t(i) * n;
    float* w = W + int64_t(i) * n;
    const float cutoff = beta[i] + margin;
    float top = -INFINITY;  // largest log weight of the row's candidates (exp below never overflows)
    int candidates = 0, negatives = 0;
    for (int k = 0; k < n; ++k) {
      w[k] = 0.0f;
      if (labels[k] == labels[i]) continue;
      ++negatives;
      const float d = margin_distance(s[k]);
      if (d < cutoff) {
        top = fmaxf(top, margin_log_inverse_density(d, dim));
        ++candidates;
      }
    }
    if (negatives == 0) continue;
    float sum = 0.0f;
    for (int k = 0; k < n; ++k) {
      if (labels[k] == labels[i]) continue;
      const float d = margin_distance(s[k]);
      if (candidates == 0) w[k] = 1.0f;  // nothing within the cutoff: uniform over the negatives
      else if (d < cutoff) w[k] = expf(margin_log_inverse_density(d, dim) - top);
      sum += w[k];
    }
    for (int k = 0; k < n; ++k) w[k] /= sum;
  }
}

void margin_sample_negatives(int32_t* chosen, const float* W, const int32_t* rows, const float* u, int draws,
                             int n) {
  for (int t = 0; t < draws; ++t) {
    const float* w = W + int64_t(rows[t]) * n;
    float total = 0.0f;
    for (int k = 0; k < n; ++k) total += w[k];
    const float target = u[t] * total;
    float running = 0.0f;
    int pick = -1;
    for (int k = 0; k < n; ++k) {
      if (w[k] <= 0.0f) continue;
      pick = k;  // the last candidate if rounding leaves the target at the very end
      running += w[k];
      if (running > target) break;
    }
    chosen[t] = pick;
  }
}

void margin_nearest_order(int32_t* order, const float* S, const int32_t* labels, int n) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* s = S + int64_t(i) * n;
    int32_t* o = order + int64_t(i) * n;
    for (int k = 0; k < n; ++k) o[k] = -1;
    for (int k = 0; k < n; ++k) {
      if (labels[k] == labels[i]) continue;
      const float dk = margin_distance(s[k]);
      int position = 0;  // how many negatives come before k
      for (int c = 0; c < n; ++c)
        if (labels[c] != labels[i] && margin_nearer(margin_distance(s[c]), c, dk, k)) ++position;
      o[position] = k;
    }
  }
}

void margin_loss(float* terms, float* dS, float* dbeta, const float* S, const int32_t* row_start,
                 const int32_t* positives, const int32_t* negatives, const float* beta, int n, float margin,
                 float grad_scale) {
  std::memset(dS, 0, sizeof(float) * n * n);
  std::vector<double> partial(3 * size_t(n), 0.0);  // (B, 3): positive sum, negative sum, non-zero terms
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* s = S + int64_t(i) * n;
    float* ds = dS + int64_t(i) * n;
    double pos = 0.0, neg = 0.0;
    float active = 0.0f, db = 0.0f;
    for (int t = row_start[i]; t < row_start[i + 1]; ++t) {
      const int p = positives[t], k = negatives[t];
      const float dp = margin_distance(s[p]);
      const float hp = dp - beta[i] + margin;
      if (hp > 0.0f) {
        pos += hp;
        active += 1.0f;
        ds[p] += margin_distance_grad(s[p], dp);
        db -= 1.0f;
      }
      if (k < 0) continue;
      const float dn = margin_distance(s[k]);
      const float hn = beta[i] - dn + margin;
      if (hn > 0.0f) {
        neg += hn;
        active += 1.0f;
        ds[k] -= margin_distance_grad(s[k], dn);
        db += 1.0f;
      }
    }
    partial[3 * i] = pos;
    partial[3 * i + 1] = neg;
    partial[3 * i + 2] = active;
    dbeta[i] = db;
  }
  double pos = 0.0, neg = 0.0, count = 0.0;  // serial, in row order: reproducible
  for (int i = 0; i < n; ++i) {
    pos += partial[3 * i];
    neg += partial[3 * i + 1];
    count += partial[3 * i + 2];
  }
  const float inv = count > 0.0 ? float(1.0 / count) : 0.0f;
  terms[1] = count > 0.0 ? float(pos / count) : 0.0f;
  terms[2] = count > 0.0 ? float(neg / count) : 0.0f;
  terms[0] = count > 0.0 ? float((pos + neg) / count) : 0.0f;
  terms[3] = float(count);
  const float scale = grad_scale * inv;
  for (int64_t e = 0; e < int64_t(n) * n; ++e) dS[e] *= scale;
  for (int i = 0; i < n; ++i) dbeta[i] *= scale;
}

}  // namespace sgml::cpu
