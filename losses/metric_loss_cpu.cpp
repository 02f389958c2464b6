#include <cstring>

#include "losses/metric_loss.h"
#include "losses/loss_terms.h"
#include "losses/stable_math.h"

namespace sgml::cpu {

void binomial_deviance_loss(float* terms, float* dS, float* dG, const float* S, const float* G, const int32_t* pairs,
                            int64_t num_pairs, int64_t num_positive, int64_t num_negative, int n, float alpha,
                            float beta, float grad_scale) {
  const size_t bytes = sizeof(float) * n * n;
  std::memset(dS, 0, bytes);
  if (dG) std::memset(dG, 0, bytes);
  // 1/count folds the means into the per-pair gradients; an empty term contributes nothing.
  const float inv_pos = inverse_count(num_positive), inv_neg = inverse_count(num_negative);
  const int32_t* pi = pairs;                  // (P) rows
  const int32_t* pj = pairs + num_pairs;      // (P) columns
  const int32_t* ppos = pairs + 2 * num_pairs;  // (P) 1 positive, 0 negative
  // Serial on purpose: a few thousand pairs, and a fixed summation order makes the value reproducible.
  double sum_pos = 0.0, sum_neg = 0.0;
  for (int64_t k = 0; k < num_pairs; ++k) {
    const int64_t e = static_cast<int64_t>(pi[k]) * n + pj[k];
    const float g = G ? G[e] : 0.0f;
    if (ppos[k]) {
      // z = -alpha (s + g - beta); dL/ds = dL/dg = -alpha sigmoid(z) / M
      const float z = -alpha * (S[e] + g - beta);
      sum_pos += stable_softplus(z);
      const float d = -alpha * stable_sigmoid(z) * inv_pos * grad_scale;
      dS[e] = d;
      if (dG) dG[e] = d;
    } else {
      // z = alpha (s - g - beta); dL/ds = alpha sigmoid(z) / N, dL/dg = -dL/ds
      const float z = alpha * (S[e] - g - beta);
      sum_neg += stable_softplus(z);
      const float d = alpha * stable_sigmoid(z) * inv_neg * grad_scale;
      dS[e] = d;
      if (dG) dG[e] = -d;
    }
  }
  write_mean_terms(terms, sum_pos, sum_neg, num_positive, num_negative);
}

}  // namespace sgml::cpu
