// The margin loss of Wu, Manmatha, Smola, Kraehenbuehl, "Sampling Matters in Deep Embedding Learning" (ICCV 2017),
// with its two negative samplers, as Divide & Conquer (Sanakoyeu et al., CVPR 2019) trains with it (issue 12).
//
// On S (B, B), the cosine similarities of L2-normalised embeddings (row i is anchor i's view; the diagonal is never
// read), the Euclidean distance of unit vectors is
//   D_ij = sqrt(max(2 - 2 s_ij, 0) + 1e-6)
// (1e-6 keeps dD/ds = -1/D at most 1000 for two identical embeddings; it moves a distance of 0.1 by 5e-6).
// Triplets: every anchor i with a positive takes each positive p != i (same label, increasing index) once, and one
// negative n_t per positive, chosen by the sampler from anchor i's negatives (different label):
//   L = (sum_t relu(D_ip - beta_i + m) + sum_t relu(beta_i - D_in + m)) / (number of non-zero terms)
// (Wu et al.'s normalisation: the count is a constant for the gradient; no non-zero term gives L = 0). beta_i is
// the boundary of anchor i (one value, or the anchor's class's when learned), m the margin. An anchor with no
// negative at all (one class in the batch) contributes its positive terms only.
//
// Samplers (for anchor i; weights and order depend on row i of S only):
// - distance (Wu et al.): probability of negative k proportional to 1/q(d_ik), d = max(D, 0.5),
//     log(1/q(d)) = (2 - n) log d - ((n - 3) / 2) log(max(1 - d^2 / 4, 1e-8))
//   where n is the embedding dimension (q is the density of distances between uniform points on the unit
//   (n-1)-sphere), over the negatives with D_ik < beta_i + m (the others have zero loss). If no negative is that
//   close, uniform over all negatives (as Wu et al.'s code). Triplet t draws its negative by inverting row i's
//   cumulative weights at a uniform u_t in [0, 1): the first k whose running sum exceeds u_t times the row's sum.
//   The draws are an argument, so a test can give the reference the same ones.
// - distance-distinct (the D&C follow-up's sampler, torch.multinomial without replacement): the same weights and
//   draws, but anchor i's triplets draw in order without replacement: draw t inverts the cumulative weights of the
//   negatives not drawn before it; once every candidate of the row is drawn, they are all put back.
// - nearest (the D&C authors' simpler variant, deterministic): anchor i's negatives ordered by distance, nearest
//   first (ties by index), those at D < 0.5 moved behind the others (same order among them); anchor i's j-th
//   triplet takes the (j mod count)-th.
// Gradient (by hand): an active positive term adds -1/D_ip to dS_ip and -1 to dbeta_i, an active negative term
// +1/D_in to dS_in and +1 to dbeta_i (dD/ds = -1/D; zero where 2 - 2s < 0), all times grad_scale / count.
// Negatives drawn twice (distance) count twice. Rows are independent, so a thread (CPU) or a thread (CUDA) owns each
// row and every sum has a fixed order: each twin is reproducible bit for bit. The twins agree with each other to
// rounding: distances and the nearest order bit for bit (2 - 2s is exact, sqrt correctly rounded), the distance
// sampler's weights to a few float ulps (the GPU's logf and expf are not glibc's, and nvcc fuses multiply-adds), so a
// draw within that of a cumulative boundary may pick the neighbouring negative on the other device.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

enum class NegativeSampler { Distance, DistanceDistinct, Nearest };
const char* negative_sampler_name(NegativeSampler s);
NegativeSampler parse_negative_sampler(const std::string& s);  // "distance" | "distance-distinct" | "nearest"
inline bool draws_uniforms(NegativeSampler s) { return s != NegativeSampler::Nearest; }

struct MarginLossConfig {
  float margin = 0.2f;  // m
  NegativeSampler sampler = NegativeSampler::Distance;
  int dim = 128;        // n of the distance weights: the dimension of the compared embeddings (>= 2)
};

struct MarginLossResult {
  Tensor terms;   // (4) on S's device: L, L_pos, L_neg (each sum over the count), count of non-zero terms
  Tensor dS;      // (B, B) grad_scale * dL/dS (no symmetrisation)
  Tensor dbeta;   // (B) grad_scale * dL/dbeta_i, per anchor row
  std::vector<int32_t> anchors, positives, negatives;  // the triplets (negative -1: the anchor has none)
};

// Number of triplets the labels give (one per ordered positive pair): the number of uniform draws to pass.
int64_t margin_triplet_count(const std::vector<int64_t>& labels);
// Uniform draws in [0, 1) (24-bit) from a counter-based generator: the same (seed, count) always gives the same.
std::vector<float> margin_uniform_draws(uint64_t seed, int64_t count);

// S: (B, B) F32; labels (B); beta (B) F32 on S's device, each anchor's boundary; uniforms: one per triplet for the
// distance samplers (ignored by nearest). B <= 4096, margin >= 0 and finite.
MarginLossResult margin_loss(const Tensor& S, const std::vector<int64_t>& labels, const Tensor& beta,
                             const MarginLossConfig& config, const std::vector<float>& uniforms,
                             float grad_scale = 1.0f);
// The sampler's weights alone (B, B): each row normalised over the negatives it may draw (zero elsewhere; a row
// without negatives is zero), for the statistical test.
Tensor margin_negative_weights(const Tensor& S, const std::vector<int64_t>& labels, const Tensor& beta,
                               const MarginLossConfig& config);

// Raw twins. labels (B) dense int32 class ids, beta (B) per row, all on one device.
namespace cpu {
// W (B, B): the distance sampler's normalised weights (see above); cutoff_i = beta_i + margin.
void margin_negative_weights(float* W, const float* S, const int32_t* labels, const float* beta, int n, int dim,
                             float margin);
// chosen (draws): for draw t, the column of row rows[t] of W found by inverting its cumulative sum at u[t].
void margin_sample_negatives(int32_t* chosen, const float* W, const int32_t* rows, const float* u, int draws, int n);
// chosen (draws) for the triplets grouped by anchor (row i's are [row_start[i], row_start[i + 1])): row i's draws in
// order without replacement (margin_sample_row_distinct); W is used as scratch and left as it was.
void margin_sample_negatives_distinct(int32_t* chosen, float* W, const int32_t* row_start, const float* u, int n);
// order (B, B): row i's negatives in the nearest sampler's order, then -1.
void margin_nearest_order(int32_t* order, const float* S, const int32_t* labels, int n);
// Triplets grouped by anchor: row i's are [row_start[i], row_start[i + 1]). terms (4), dS (B, B), dbeta (B).
void margin_loss(float* terms, float* dS, float* dbeta, const float* S, const int32_t* row_start,
                 const int32_t* positives, const int32_t* negatives, const float* beta, int n, float margin,
                 float grad_scale);
}  // namespace cpu
namespace cuda {
void margin_negative_weights(float* W, const float* S, const int32_t* labels, const float* beta, int n, int dim,
                             float margin);
void margin_sample_negatives(int32_t* chosen, const float* W, const int32_t* rows, const float* u, int draws, int n);
void margin_sample_negatives_distinct(int32_t* chosen, float* W, const int32_t* row_start, const float* u, int n);
void margin_nearest_order(int32_t* order, const float* S, const int32_t* labels, int n);
void margin_loss(float* terms, float* dS, float* dbeta, const float* S, const int32_t* row_start,
                 const int32_t* positives, const int32_t* negatives, const float* beta, int n, float margin,
                 float grad_scale);
}  // namespace cuda

}  // namespace sgml
