// The per-element formulas of the margin loss and its samplers (losses/margin_loss.h), shared by the CPU and CUDA
// twins (host and device) so that both compute the same float expressions.
#pragma once
#include <cmath>
#include <cstdint>

#include "losses/stable_math.h"  // SGML_HOST_DEVICE

namespace sgml {

// Distance of two unit vectors from their cosine similarity: sqrt(max(2 - 2s, 0) + 1e-6).
SGML_HOST_DEVICE inline float margin_distance(float s) { return sqrtf(fmaxf(2.0f - 2.0f * s, 0.0f) + 1e-6f); }

// dD/ds = -1/D where 2 - 2s >= 0 (as torch.clamp passes the gradient at the boundary), 0 beyond.
SGML_HOST_DEVICE inline float margin_distance_grad(float s, float d) {
  return 2.0f - 2.0f * s >= 0.0f ? -1.0f / d : 0.0f;
}

// log(1/q(d)) of distance-weighted sampling, d clipped below at 0.5 and 1 - d^2/4 at 1e-8 (d near 2).
SGML_HOST_DEVICE inline float margin_log_inverse_density(float distance, int dim) {
  const float d = fmaxf(distance, 0.5f);
  return (2.0f - float(dim)) * logf(d) - 0.5f * (float(dim) - 3.0f) * logf(fmaxf(1.0f - 0.25f * d * d, 1e-8f));
}

// Whether candidate a comes before candidate b in the nearest sampler's order (both negatives of the anchor):
// the ones at distance >= 0.5 first, then nearer first, then lower index.
SGML_HOST_DEVICE inline bool margin_nearer(float da, int a, float db, int b) {
  const bool far_a = da >= 0.5f, far_b = db >= 0.5f;
  if (far_a != far_b) return far_a;
  if (da != db) return da < db;
  return a < b;
}

// The per-row work of the twins (margin_loss_cpu.cpp, margin_loss_cuda.cu), each owning whole rows: the same code,
// hence the same operations in the same order on both. Equal bits only where the operations are exact or correctly
// rounded on both (distances, the nearest order): logf and expf differ in the last bits between the GPU and glibc,
// and nvcc fuses multiply-adds (margin_loss.h).

// The least weight, relative to the row's largest, of a negative below the cutoff. At 512 dimensions the log weights
// of two such negatives can differ by hundreds (d = 0.6 against 1.35: about 283), and expf of that is 0 in float32:
// the sampler without replacement would find the row used up after its first draw and draw the hardest again. Far
// below any weight float32 holds otherwise, so it only orders the draws that are left after every other.
constexpr float kMarginLeastWeight = 1e-30f;

// Row i of the distance sampler's weights w (n): normalised over the negatives with distance below `cutoff`, or
// uniform over all negatives when none is that close; zero elsewhere (all zero without negatives).
SGML_HOST_DEVICE inline void margin_weights_row(float* w, const float* s, const int32_t* labels, int i, int n, int dim,
                                                float cutoff) {
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
  if (negatives == 0) return;
  float sum = 0.0f;
  for (int k = 0; k < n; ++k) {
    if (labels[k] == labels[i]) continue;
    const float d = margin_distance(s[k]);
    if (candidates == 0) w[k] = 1.0f;
    else if (d < cutoff) w[k] = fmaxf(expf(margin_log_inverse_density(d, dim) - top), kMarginLeastWeight);
    sum += w[k];
  }
  for (int k = 0; k < n; ++k) w[k] /= sum;
}

// The column of weights w (n) found by inverting their cumulative sum at u in [0, 1): the first k whose running sum
// exceeds u times the total (the last positive one if rounding leaves the target at the very end; -1: none
// positive). Weights <= 0 take no part (margin_sample_row_distinct marks drawn columns by negating them).
SGML_HOST_DEVICE inline int margin_sample_row(const float* w, int n, float u) {
  float total = 0.0f;
  for (int k = 0; k < n; ++k)
    if (w[k] > 0.0f) total += w[k];
  const float target = u * total;
  float running = 0.0f;
  int pick = -1;
  for (int k = 0; k < n; ++k) {
    if (w[k] <= 0.0f) continue;
    pick = k;
    running += w[k];
    if (running > target) break;
  }
  return pick;
}

// Anchor row's `count` draws u without replacement (the D&C follow-up's torch.multinomial(..., replacement=False)):
// draw t inverts the cumulative sum of the weights not drawn before (margin_sample_row), a drawn column's weight is
// negated to take it out, and once every candidate is drawn they are all put back and the draws go on. w, the row
// of W (n), is as it was on return. chosen[t] = -1 only for a row without candidates.
SGML_HOST_DEVICE inline void margin_sample_row_distinct(int32_t* chosen, float* w, int n, const float* u, int count) {
  for (int t = 0; t < count; ++t) {
    int pick = margin_sample_row(w, n, u[t]);
    if (pick < 0) {  // every candidate drawn: put them back
      for (int k = 0; k < n; ++k) w[k] = fabsf(w[k]);
      pick = margin_sample_row(w, n, u[t]);
    }
    chosen[t] = pick;
    if (pick >= 0) w[pick] = -w[pick];
  }
  for (int k = 0; k < n; ++k) w[k] = fabsf(w[k]);
}

// Position of negative k among anchor i's negatives in the nearest sampler's order.
SGML_HOST_DEVICE inline int margin_nearest_position(const float* s, const int32_t* labels, int i, int k, int n) {
  const float dk = margin_distance(s[k]);
  int position = 0;
  for (int c = 0; c < n; ++c)
    if (labels[c] != labels[i] && margin_nearer(margin_distance(s[c]), c, dk, k)) ++position;
  return position;
}

// Anchor i's triplets [begin, end): adds the unscaled gradient to ds (its row of dS, zero beforehand) and returns
// the hinge sums, the count of non-zero terms and the unscaled dL/dbeta_i in sums (4).
SGML_HOST_DEVICE inline void margin_loss_row(float* sums, float* ds, const float* s, int begin, int end,
                                             const int32_t* positives, const int32_t* negatives, float beta,
                                             float margin) {
  float pos = 0.0f, neg = 0.0f, active = 0.0f, db = 0.0f;
  for (int t = begin; t < end; ++t) {
    const int p = positives[t], k = negatives[t];
    const float dp = margin_distance(s[p]);
    const float hp = dp - beta + margin;
    if (hp > 0.0f) {
      pos += hp;
      active += 1.0f;
      ds[p] += margin_distance_grad(s[p], dp);
      db -= 1.0f;
    }
    if (k < 0) continue;
    const float dn = margin_distance(s[k]);
    const float hn = beta - dn + margin;
    if (hn > 0.0f) {
      neg += hn;
      active += 1.0f;
      ds[k] -= margin_distance_grad(s[k], dn);
      db += 1.0f;
    }
  }
  sums[0] = pos;
  sums[1] = neg;
  sums[2] = active;
  sums[3] = db;
}

}  // namespace sgml
