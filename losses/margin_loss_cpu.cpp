#include <cmath>
#include <cstring>
#include <vector>

#include "losses/margin_loss.h"
#include "losses/margin_math.h"

namespace sgml::cpu {

// The formulas are in margin_loss.h, the per-row work in margin_math.h (shared with the CUDA twin). Rows run in
// parallel, each row's sums in column order, so the results do not depend on the threads.
void margin_negative_weights(float* W, const float* S, const int32_t* labels, const float* beta, int n, int dim,
                             float margin) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i)
    margin_weights_row(W + int64_t(i) * n, S + int64_t(i) * n, labels, i, n, dim, beta[i] + margin);
}

void margin_sample_negatives(int32_t* chosen, const float* W, const int32_t* rows, const float* u, int draws,
                             int n) {
  for (int t = 0; t < draws; ++t) chosen[t] = margin_sample_row(W + int64_t(rows[t]) * n, n, u[t]);
}

void margin_sample_negatives_distinct(int32_t* chosen, float* W, const int32_t* row_start, const float* u, int n) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i)
    margin_sample_row_distinct(chosen + row_start[i], W + int64_t(i) * n, n, u + row_start[i],
                               row_start[i + 1] - row_start[i]);
}

void margin_nearest_order(int32_t* order, const float* S, const int32_t* labels, int n) {
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    int32_t* o = order + int64_t(i) * n;
    for (int k = 0; k < n; ++k) o[k] = -1;
    for (int k = 0; k < n; ++k)
      if (labels[k] != labels[i]) o[margin_nearest_position(S + int64_t(i) * n, labels, i, k, n)] = k;
  }
}

void margin_loss(float* terms, float* dS, float* dbeta, const float* S, const int32_t* row_start,
                 const int32_t* positives, const int32_t* negatives, const float* beta, int n, float margin,
                 float grad_scale) {
  std::memset(dS, 0, sizeof(float) * n * n);
  std::vector<float> partial(4 * size_t(n), 0.0f);  // (B, 4): positive sum, negative sum, non-zero terms, dbeta
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i)
    margin_loss_row(&partial[4 * size_t(i)], dS + int64_t(i) * n, S + int64_t(i) * n, row_start[i], row_start[i + 1],
                    positives, negatives, beta[i], margin);
  double pos = 0.0, neg = 0.0, count = 0.0;  // serial, in row order: reproducible
  for (int i = 0; i < n; ++i) {
    pos += partial[4 * i];
    neg += partial[4 * i + 1];
    count += partial[4 * i + 2];
  }
  terms[0] = count > 0.0 ? float((pos + neg) / count) : 0.0f;
  terms[1] = count > 0.0 ? float(pos / count) : 0.0f;
  terms[2] = count > 0.0 ? float(neg / count) : 0.0f;
  terms[3] = float(count);
  const float scale = count > 0.0 ? grad_scale * float(1.0 / count) : 0.0f;
  for (int64_t e = 0; e < int64_t(n) * n; ++e) dS[e] *= scale;
  for (int i = 0; i < n; ++i) dbeta[i] = partial[4 * size_t(i) + 3] * scale;
}

}  // namespace sgml::cpu
