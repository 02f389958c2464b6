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

}  // namespace sgml
