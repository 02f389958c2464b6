// The rank-approximation loss: OUR RECONSTRUCTION of the loss of Schall, Barthel, Hezel, Jung, "Deep Metric
// Learning using Similarities from Nonlinear Rank Approximations" (MMSP 2019) from its abstract alone
// (../shared/seeds/nonlinear-rank-approximations-abstract.txt). The paper's full text, formulas and code were not
// available to us: every formula, parameter and default below is our choice, argued here, not the paper's.
// The abstract says only: "normalized approximated ranks", "converted to similarities by applying a nonlinear
// transfer function", used in "a loss function that better contracts similar and disperses dissimilar samples".
//
// On S (B, B), the cosine similarities of L2-normalised embeddings (any real matrix is accepted; row i is anchor
// i's view of the batch, the diagonal is never read):
//
//   rank     r_ij = 1/(B-2) * sum_{k != i, j} sigmoid((s_ik - s_ij) / tau)         i != j, in [0, 1]
//   transfer f_ij = exp(-r_ij / rho)                                                in (0, 1], f = 1 at rank 0
//   loss     L    = L_pos + L_neg
//            L_pos = mean over ordered positive pairs (i != j, same label) of (1 - f_ij)^2
//            L_neg = mean over ordered negative pairs (different labels)      of f_ij^2
//
// r_ij is the fraction of the other candidates that anchor i ranks above j (a tie counts one half), smoothed by
// the temperature tau: r -> the exact normalised rank as tau -> 0. Pairs are ordered ((i, j) and (j, i) are two
// terms: ranks are not symmetric). A term with no pairs is 0 (one class: no negatives). B < 3 leaves no candidate
// to rank against: the loss and its gradient are then 0 by definition.
//
// Why these forms (reasoning only; no study has tuned them yet):
// - exp(-r/rho) rather than (1 - r)^gamma: it is defined and smooth for every r (a rank rounded a hair above 1
//   makes (1 - r)^gamma NaN for non-integer gamma), its relative steepness f'/f = -1/rho is the same at every rank,
//   and rho reads directly as "the normalised rank where the similarity has fallen to 1/e". It is steepest at
//   rank 0, where Recall@1 is decided.
// - Squared error on f rather than cross-entropy: per pair dL/dr = 2 f (1 - f) / rho for a positive (largest at
//   r = rho ln 2, i.e. positives just below the top, the ones that decide Recall@1; small for a positive already
//   on top or hopelessly far down) and -2 f^2 / rho for a negative (largest at rank 0: the negatives that are
//   retrieved first). Every term is bounded (L in [0, 2], |dL/dr| <= 2 / rho per pair), so no logarithm of a
//   rank that underflows to 0 can appear; cross-entropy would need -log(1 - exp(-r / rho)), infinite at r = 0.
// - Means over positive and negative pairs separately, as the binomial deviance loss (metric_loss.h) does: a
//   batch has far more negatives than positives.
// Defaults (training/train_config.h): tau = 0.01, chosen by a study on the built-in demo (README: from 0.3 down to
// 0.01 the smaller tau did better overall; it was 0.05, by reasoning, before), and rho = 0.2 (f = e^-5 at the bottom
// of the ranking: even the last positive keeps a small gradient, 3% of the largest).
//
// Gradient, by hand, with sigma'(z) = sigmoid(z) sigmoid(-z) and z_ijk = (s_ik - s_ij) / tau:
//   c_ij = dL/dr_ij  =  2 f (1 - f) / (rho P)  (positive; P positive pairs)  or  -2 f^2 / (rho N)  (negative)
//   dL/ds_ik += c_ij sigma'(z_ijk) / (tau (B-2))   for every k != i, j
//   dL/ds_ij -= c_ij sum_k sigma'(z_ijk) / (tau (B-2))
// Memory is O(B^2): the sums over k are recomputed for every (i, j), first for r_ij, then for the gradient, so no
// (B, B, B) tensor exists; time is O(B^3) (4.3 million (i, j, k) terms at B = 164, each visited twice). Row i of
// dS depends on anchor i only, so rows are computed independently (a thread or a CUDA block per row) and every sum
// has a fixed order: the CPU and the CUDA results are each reproducible bit for bit, run to run.
// Numerical range: tau in [1e-3, 1] and rho in [1e-2, 10] (the option table and rank_approximation_loss enforce
// them). stable_sigmoid never overflows, sigma' is bounded by 1/4, f and 1 - f (expm1f) lie in [0, 1], so every
// value and gradient is finite: |dL/ds| <= 1 / (2 rho tau) per pair before the means. Below tau = 1e-3 the rank is
// a step function in float32 for the similarity gaps of a batch, and the gradient lives only on exact near-ties.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

struct RankLossResult {
  Tensor terms;  // (3) on S's device: L, L_pos, L_neg
  Tensor dS;     // (B, B) grad_scale * dL/dS (no symmetrisation; the diagonal is 0)
  int64_t positive_pairs = 0, negative_pairs = 0;  // ordered pairs i != j
};

// S: (B, B) F32 similarities; labels: (B) class of each row (only equality matters). tau in [1e-3, 1], rho in
// [1e-2, 10], B <= 4096. grad_scale multiplies dS (the weight of this loss in the total), not the value.
RankLossResult rank_approximation_loss(const Tensor& S, const std::vector<int64_t>& labels, float tau, float rho,
                                       float grad_scale = 1.0f);

// Raw twins. labels: (B) int32 class ids on S's device; num_positive / num_negative: ordered pairs, as counted from
// the labels by the caller. terms (3) and dS (B, B) are written completely (B < 3: zeros).
namespace cpu {
void rank_approximation_loss(float* terms, float* dS, const float* S, const int32_t* labels, int n,
                             int64_t num_positive, int64_t num_negative, float tau, float rho, float grad_scale);
}  // namespace cpu
namespace cuda {
void rank_approximation_loss(float* terms, float* dS, const float* S, const int32_t* labels, int n,
                             int64_t num_positive, int64_t num_negative, float tau, float rho, float grad_scale);
}  // namespace cuda

}  // namespace sgml
