// Binomial deviance loss (BDL, paper Eq. 3 with C_y = 1) and the soft-binomial deviance loss (SBDL, Eq. 6-8) on a
// precomputed similarity matrix. The caller computes S = En En^T of L2-normalised embeddings (Eq. 4) and, for SBDL,
// G = Pn Pn^T of L2-normalised attribute probabilities (the SGS mapping g, Eq. 5), and chains dS and dG back
// through those products with its own autograd.
//
//   L     = L_pos + L_neg
//   L_pos = mean over positive pairs of softplus(-alpha (s + g - beta))
//   L_neg = mean over negative pairs of softplus( alpha (s - g - beta))      (g = 0 for BDL)
//
// A term with no pairs is 0 (a batch of one class has no negatives). One pass over the pairs writes the value
// contributions and the gradients; softplus and sigmoid are evaluated in forms that never overflow, so alpha |s|
// in the hundreds gives finite values and gradients.
#pragma once
#include "engine/tensor.h"
#include "losses/pairs.h"

namespace sgml {

struct MetricLossResult {
  Tensor terms;  // (3) on S's device: L, L_pos, L_neg
  Tensor dS;     // (N, N) grad_scale * dL/dS at each listed (i, j); 0 elsewhere (no symmetrisation)
  Tensor dG;     // (N, N) grad_scale * dL/dG likewise; undefined for BDL or when grad_g is false
};

// S: (N, N) cosine similarities. G: (N, N) SGS mapping, or an undefined Tensor for BDL. pairs: each (i, j) at most
// once, i != j. grad_g = false treats g as a constant (--sgs-grad off): dG is not produced. grad_scale multiplies
// both gradients (the weight of this loss in the total).
MetricLossResult binomial_deviance_loss(const Tensor& S, const Tensor& G, const PairList& pairs, float alpha,
                                        float beta, bool grad_g = true, float grad_scale = 1.0f);

// Raw twins. pairs: (3, P) int32 as PairList::packed. G may be null (BDL); dG may be null (no dG wanted); dS and
// dG are zeroed and then written at the listed pairs. num_positive + num_negative == num_pairs.
namespace cpu {
void binomial_deviance_loss(float* terms, float* dS, float* dG, const float* S, const float* G, const int32_t* pairs,
                            int64_t num_pairs, int64_t num_positive, int64_t num_negative, int n, float alpha,
                            float beta, float grad_scale);
}  // namespace cpu
namespace cuda {
void binomial_deviance_loss(float* terms, float* dS, float* dG, const float* S, const float* G, const int32_t* pairs,
                            int64_t num_pairs, int64_t num_positive, int64_t num_negative, int n, float alpha,
                            float beta, float grad_scale);
}  // namespace cuda

}  // namespace sgml
