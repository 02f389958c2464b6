// Divide & Conquer's learners (Sanakoyeu et al. 2019): an embedding of d dimensions split into K slices, learner k
// owning the columns [k c, min((k + 1) c, d)) with c = ceil(d / K). Each slice is L2-normalised on its own; the
// full embedding is the concatenation of the normalised slices (norm sqrt(K)). Built from tape ops (a slice is a
// product with a constant 0/1 selection matrix, exact in float), so gradients flow through them as through any op.
//
// The authors' follow-up (Sanakoyeu, Ma, Tschernezki, Ommer, TPAMI 2021) learns the split instead: learner k weights
// all d dimensions by relu(mask k), the masks (K, d) being parameters that start at ones.
#pragma once
#include <utility>

#include "engine/variable.h"

namespace sgml {

// [begin, end) of learner k's columns; throws unless 0 <= k < K and every one of the K slices has >= 2 columns.
std::pair<int, int> learner_columns(int learner, int learners, int dim);
// Throws (naming --embedding-dim and --learners) unless every one of the K slices of d columns has >= 2 columns.
void check_learner_slices(int learners, int dim);

// emb (N, d) -> learner k's slice (N, d_k), L2-normalised.
Variable learner_embedding(const Variable& emb, int learner, int learners);
// emb (N, d) -> the concatenation of the K normalised slices, scaled by `scale` (1: norm sqrt(K); 1/sqrt(K): unit
// rows). K = 1: l2_normalize(emb) * scale.
Variable concatenated_learner_embedding(const Variable& emb, int learners, float scale);

// emb (N, d), masks (K, d) -> learner k's embedding (N, d): emb * relu(masks[k]) per column, L2-normalised.
Variable masked_learner_embedding(const Variable& emb, const Variable& masks, int learner);

}  // namespace sgml
