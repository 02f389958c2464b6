#include <cmath>
#include <cstring>
#include <vector>

#include "losses/rank_loss.h"
#include "losses/loss_terms.h"
#include "losses/stable_math.h"

namespace sgml::cpu {

// The formulas and their derivation are in rank_loss.h. One anchor row at a time: row i of dS and the row's two
// loss sums depend on row i of S only, so rows run in parallel and the result does not depend on the threads.
void rank_approximation_loss(float* terms, float* dS, const float* S, const int32_t* labels, int n,
                             int64_t num_positive, int64_t num_negative, float tau, float rho, float grad_scale) {
  std::memset(dS, 0, sizeof(float) * n * n);
  terms[0] = terms[1] = terms[2] = 0.0f;
  if (n < 3) return;  // no candidate to rank against: L = 0, dL/dS = 0 (rank_loss.h)
  // 1/count folds the means into the per-pair gradients; an empty term contributes nothing.
  const float inv_pos = inverse_count(num_positive), inv_neg = inverse_count(num_negative);
  const float inv_others = 1.0f / static_cast<float>(n - 2);
  std::vector<double> row_sums(2 * static_cast<size_t>(n), 0.0);  // (B, 2): sum over positives, over negatives

#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    const float* s = S + static_cast<int64_t>(i) * n;  // (B) anchor i's similarities
    float* ds = dS + static_cast<int64_t>(i) * n;      // (B) its gradient row
    double sum_pos = 0.0, sum_neg = 0.0;
    for (int j = 0; j < n; ++j) {
      if (j == i) continue;
      const float sij = s[j];
      float ahead = 0.0f;  // sum_k sigmoid(z_ijk): how many candidates rank above j
      for (int k = 0; k < n; ++k)
        if (k != i && k != j) ahead += stable_sigmoid((s[k] - sij) / tau);
      const float x = ahead * inv_others / rho;  // r_ij / rho
      const float f = expf(-x), one_minus_f = -expm1f(-x);
      float c;  // dL/dr_ij, the mean and grad_scale folded in
      if (labels[i] == labels[j]) {
        sum_pos += double(one_minus_f) * one_minus_f;
        c = 2.0f * f * one_minus_f / rho * inv_pos * grad_scale;
      } else {
        sum_neg += double(f) * f;
        c = -2.0f * f * f / rho * inv_neg * grad_scale;
      }
      const float w = c * inv_others / tau;  // times sigma'(z) = dL/ds_ik
      float total = 0.0f;
      for (int k = 0; k < n; ++k) {
        if (k == i || k == j) continue;
        const float z = (s[k] - sij) / tau;
        const float d = w * (stable_sigmoid(z) * stable_sigmoid(-z));
        ds[k] += d;
        total += d;
      }
      ds[j] -= total;
    }
    row_sums[2 * i] = sum_pos;
    row_sums[2 * i + 1] = sum_neg;
  }
  double sum_pos = 0.0, sum_neg = 0.0;  // serial, in row order: reproducible
  for (int i = 0; i < n; ++i) {
    sum_pos += row_sums[2 * i];
    sum_neg += row_sums[2 * i + 1];
  }
  write_mean_terms(terms, sum_pos, sum_neg, num_positive, num_negative);
}

}  // namespace sgml::cpu
