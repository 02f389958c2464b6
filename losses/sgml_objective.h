// The training objective of the paper's four models (Eq. 1, Tables IV and VIII), on the tape:
//   sgml      = SBDL(s, g) + lambda * BCE        multitask = BDL(s) + lambda * BCE
//   metric    = BDL(s)                           attribute = BCE
// and, beside the paper, our reconstruction of the rank-approximation loss of Schall et al. (losses/rank_loss.h,
// built from that paper's abstract only):
//   rank      = RANK(s)                          rank-multitask = RANK(s) + lambda * BCE
// and the margin loss of Wu et al. 2017 with its negative samplers (losses/margin_loss.h; Divide & Conquer's loss):
//   margin    = MARGIN(s)
// s = cosine similarities of the embeddings (Eq. 4); g = the SGS mapping, cosine similarities of the attribute
// probabilities sigmoid(logits) (Eq. 5). Gradients reach the embeddings through s and, unless sgs_grad is off,
// the attribute branch through g as well.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/variable.h"
#include "losses/margin_loss.h"

namespace sgml {

// The paper's ablation (Tables IV, VIII), then the rank-approximation loss alone and with the BCE.
enum class LossMode { Sgml, Multitask, Metric, Attribute, Rank, RankMultitask, Margin };
// Whether the mode's metric term is the rank-approximation loss (rank_loss.h) rather than the (soft-)binomial
// deviance; and whether it trains the attribute branch with the BCE.
inline bool uses_rank_loss(LossMode m) { return m == LossMode::Rank || m == LossMode::RankMultitask; }
inline bool uses_bce(LossMode m) { return m != LossMode::Metric && m != LossMode::Rank && m != LossMode::Margin; }
// Whether the metric term is the margin loss (margin_loss.h).
inline bool uses_margin_loss(LossMode m) { return m == LossMode::Margin; }
// Whether the loss needs batch-wise sampling (it looks at every image of the batch for every anchor).
inline bool needs_batch_sampling(LossMode m) { return uses_rank_loss(m) || uses_margin_loss(m); }
// How a batch becomes pairs: every pair within a class-balanced batch (Sec. V-B), or (anchor, positive, negative)
// triplets at consecutive positions.
enum class Sampling { BatchWise, ImageWise };

struct ObjectiveConfig {
  LossMode mode = LossMode::Sgml;
  Sampling sampling = Sampling::BatchWise;
  float alpha = 2.0f, beta = 0.5f, lambda = 1.0f;
  bool sgs_grad = true;
  float rank_tau = 0.01f, rank_rho = 0.2f;  // temperature and transfer scale of the rank loss (rank_loss.h)
  // The margin loss (margin_loss.h): margin m, boundary beta, negative sampler; its `dim` is set from the
  // embedding. draw_seed seeds the distance sampler's uniform draws (train_step derives it from the seed and step).
  float margin = 0.2f, margin_beta = 1.2f;
  // With learned boundaries (class_beta): the L1 penalty of Wu et al. and the D&C authors' code,
  // nu * sum over the triplets of |beta of the anchor's class|, added to the loss before its division by the count
  // of non-zero terms (nothing is added when that count is 0).
  float beta_nu = 0.0f;
  NegativeSampler sampler = NegativeSampler::Distance;
  uint64_t draw_seed = 0;
  // Divide & Conquer's learners (layers/embedding_slices.h): with learners > 1 the metric loss sees learner
  // `learner`'s normalised slice, or with learner -1 the concatenation of all normalised slices (unit rows).
  int learners = 1, learner = -1;
  // A hierarchical division's learners in use (training/dnc.h): learner k's slice is then k of active_learners
  // slices, and the masks' term covers the first active_learners masks; 0: all `learners` (the whole embedding is
  // always the concatenation of `learners` slices).
  int active_learners = 0;
  // With learned masks (the learner_masks argument of sgml_objective; the authors' TPAMI follow-up) learner k's
  // embedding is emb * relu(mask k), normalised, and mask_lambda times the masks' mean pairwise cosine
  // (losses/mask_orthogonality.h) is added; learner -1: the plain normalised embedding, no mask term.
  float mask_lambda = 0.0f;
};

struct ObjectiveResult {
  Variable total;           // one element; call total.backward() (it is the root of the tape)
  double loss = 0;          // the value of total
  double metric_loss = 0;   // rank or margin loss in those modes, else BDL or SBDL (in every mode, for the log)
  double bce_loss = 0;      // BCE (computed in every mode, for the log)
  double mask_loss = 0;     // the learned masks' term, lambda included (0 without masks or with learner -1)
  // Of the metric loss: ordered pairs i != j for the rank loss; the margin loss's triplets (one positive and at most
  // one negative pair each).
  int64_t positive_pairs = 0, negative_pairs = 0;
};

// emb (N,512) and attr_logits (N,K) from the model; labels (N) class indices; attr_targets (N,K) 0/1 on the
// logits' device. attr_logits may be undefined (the linear head, no attribute branch) for the losses without
// attributes (metric, rank, margin); bce_loss is then 0. class_beta: the margin loss's learned boundary of each
// class (C) (--learn-beta; labels must then lie in [0, C)), or undefined for the fixed margin_beta; it receives its
// gradient on backward. learner_masks: Divide & Conquer's learned masks (K, d), or undefined for none (the slices of
// `learners`, or one embedding); they receive their gradient on backward.
// Batch-wise: all pairs i<j. Image-wise: the batch is (anchor, positive, negative) triplets.
// The rank and margin modes need batch-wise sampling: they look at every image of the batch for every anchor.
ObjectiveResult sgml_objective(const Variable& emb, const Variable& attr_logits, const std::vector<int64_t>& labels,
                               const Tensor& attr_targets, const ObjectiveConfig& config,
                               const Variable& class_beta = Variable(), const Variable& learner_masks = Variable());

}  // namespace sgml
