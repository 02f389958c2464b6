// The training objective of the paper's four models (Eq. 1, Tables IV and VIII), on the tape:
//   sgml      = SBDL(s, g) + lambda * BCE        multitask = BDL(s) + lambda * BCE
//   metric    = BDL(s)                           attribute = BCE
// s = cosine similarities of the embeddings (Eq. 4); g = the SGS mapping, cosine similarities of the attribute
// probabilities sigmoid(logits) (Eq. 5). Gradients reach the embeddings through s and, unless sgs_grad is off,
// the attribute branch through g as well.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/variable.h"

namespace sgml {

enum class LossMode { Sgml, Multitask, Metric, Attribute };  // the paper's ablation (Tables IV, VIII)
// How a batch becomes pairs: every pair within a class-balanced batch (Sec. V-B), or (anchor, positive, negative) triplets at consecutive positions.
enum class Sampling { BatchWise, ImageWise };

struct ObjectiveConfig {
  LossMode mode = LossMode::Sgml;
  Sampling sampling = Sampling::BatchWise;
  float alpha = 2.0f, beta = 0.5f, lambda = 1.0f;
  bool sgs_grad = true;
};

struct ObjectiveResult {
  Variable total;           // one element; call total.backward() (it is the root of the tape)
  double loss = 0;          // the value of total
  double metric_loss = 0;   // BDL or SBDL (computed in every mode, for the log)
  double bce_loss = 0;      // BCE (computed in every mode, for the log)
  int64_t positive_pairs = 0, negative_pairs = 0;
};

// emb (N,512) and attr_logits (N,K) from the model; labels (N) class indices; attr_targets (N,K) 0/1 on the
// logits' device. Batch-wise: all pairs i<j. Image-wise: the batch is (anchor, positive, negative) triplets.
ObjectiveResult sgml_objective(const Variable& emb, const Variable& attr_logits, const std::vector<int64_t>& labels,
                               const Tensor& attr_targets, const ObjectiveConfig& config);

}  // namespace sgml
