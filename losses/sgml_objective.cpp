#include "losses/sgml_objective.h"

#include <cmath>
#include <memory>

#include "engine/check.h"
#include "layers/elementwise.h"
#include "layers/embedding_slices.h"
#include "layers/functional.h"
#include "losses/bce.h"
#include "losses/mask_orthogonality.h"
#include "losses/metric_loss.h"
#include "losses/pairs.h"
#include "losses/rank_loss.h"

namespace sgml {

ObjectiveResult sgml_objective(const Variable& emb, const Variable& attr_logits, const std::vector<int64_t>& labels,
                               const Tensor& attr_targets, const ObjectiveConfig& config,
                               const Variable& class_beta, const Variable& learner_masks) {
  const int64_t n = emb.value().dim(0);
  SGML_CHECK(static_cast<int64_t>(labels.size()) == n, labels.size(), " labels for a batch of ", n);
  const bool use_metric = config.mode != LossMode::Attribute, use_bce = uses_bce(config.mode);
  // Without an attribute branch (the linear head) only the losses without attributes can train.
  SGML_CHECK(attr_logits.defined() || (!use_bce && config.mode != LossMode::Sgml),
             "this loss needs the attribute branch, which a model with the linear head does not have");
  if (attr_logits.defined()) check_shape(attr_targets, attr_logits.value().shape(), "attribute targets");
  const bool use_g = config.mode == LossMode::Sgml, use_rank = uses_rank_loss(config.mode);
  const bool use_margin = uses_margin_loss(config.mode);
  const float bce_weight = config.mode == LossMode::Attribute ? 1.0f : config.lambda;
  SGML_CHECK(!use_rank || config.sampling == Sampling::BatchWise,
             "the rank loss needs batch-wise sampling: it ranks every image of the batch for every anchor");
  SGML_CHECK(!use_margin || config.sampling == Sampling::BatchWise,
             "the margin loss needs batch-wise sampling: it samples each anchor's negatives from the whole batch");

  // s: cosine similarities of the embeddings; g: of the attribute probabilities (the SGS mapping).
  const bool masked = learner_masks.defined() && config.learner >= 0;
  const int active = config.active_learners > 0 ? config.active_learners : config.learners;
  Variable en = masked                             ? masked_learner_embedding(emb, learner_masks, config.learner)
                : learner_masks.defined() || config.learners <= 1 ? fn::l2_normalize(emb)
                : config.learner >= 0  ? learner_embedding(emb, config.learner, active)
                                       : concatenated_learner_embedding(emb, config.learners,
                                                                        1.0f / std::sqrt(float(config.learners)));
  Variable s = fn::matmul(en, false, en, true);
  Variable g;
  if (use_g) {
    // With sgs_grad off, g is a constant: computed without the tape.
    std::unique_ptr<NoGradGuard> constant_g = config.sgs_grad ? nullptr : std::make_unique<NoGradGuard>();
    Variable pn = fn::l2_normalize(fn::sigmoid(attr_logits));
    g = fn::matmul(pn, false, pn, true);
  }

  ObjectiveResult r;
  Tensor ds, dg, dclass_beta;
  const bool learned_beta = use_margin && class_beta.defined();
  if (use_rank) {
    RankLossResult rank = rank_approximation_loss(s.value(), labels, config.rank_tau, config.rank_rho, 1.0f);
    r.metric_loss = rank.terms.to_vector()[0];
    r.positive_pairs = rank.positive_pairs;
    r.negative_pairs = rank.negative_pairs;
    ds = rank.dS;
  } else if (use_margin) {
    const MarginLossConfig margin{config.margin, config.sampler, static_cast<int>(en.value().dim(1))};
    // Each anchor's boundary: the fixed one, or its class's learned one (gathered on the host: B + C floats).
    std::vector<float> class_values = learned_beta ? class_beta.value().to_vector() : std::vector<float>();
    std::vector<float> row_beta(static_cast<size_t>(n), config.margin_beta);
    for (int64_t i = 0; learned_beta && i < n; ++i) {
      SGML_CHECK(labels[i] >= 0 && labels[i] < static_cast<int64_t>(class_values.size()), "the margin loss's learned ",
                 "boundaries cover classes 0 to ", class_values.size() - 1, ", but a batch has label ", labels[i]);
      row_beta[i] = class_values[labels[i]];
    }
    const Tensor beta = Tensor::from_vector(row_beta, {n}, emb.value().device());
    const std::vector<float> draws = draws_uniforms(config.sampler)
                                         ? margin_uniform_draws(config.draw_seed, margin_triplet_count(labels))
                                         : std::vector<float>();
    MarginLossResult m = margin_loss(s.value(), labels, beta, margin, draws, 1.0f);
    const std::vector<float> terms = m.terms.to_vector();  // L, L_pos, L_neg, count: one copy to the host
    r.metric_loss = terms[0];
    r.positive_pairs = static_cast<int64_t>(m.positives.size());
    for (int32_t k : m.negatives) r.negative_pairs += k >= 0;
    ds = m.dS;
    if (learned_beta) {  // dL/dbeta_c = the sum of its anchors' dL/dbeta_i
      const std::vector<float> row_grad = m.dbeta.to_vector();
      std::vector<float> class_grad(class_values.size(), 0.0f);
      for (int64_t i = 0; i < n; ++i) class_grad[labels[i]] += row_grad[i];
      const double count = terms[3];
      if (config.beta_nu > 0.0f && count > 0) {  // + nu sum_t |beta_(class of anchor t)| / count
        double penalty = 0;
        for (int32_t a : m.anchors) {
          const float b = class_values[labels[a]];
          penalty += std::fabs(b);
          class_grad[labels[a]] += static_cast<float>(config.beta_nu / count) * (b > 0 ? 1.0f : b < 0 ? -1.0f : 0.0f);
        }
        r.metric_loss += config.beta_nu * penalty / count;
      }
      dclass_beta = Tensor::from_vector(class_grad, class_beta.value().shape(), emb.value().device());
    }
  } else {
    const PairList pairs = config.sampling == Sampling::BatchWise ? batch_pairs(labels) : triplet_pairs(n);
    MetricLossResult metric = binomial_deviance_loss(s.value(), use_g ? g.value() : Tensor(), pairs, config.alpha,
                                                     config.beta, use_g && config.sgs_grad, 1.0f);
    r.metric_loss = metric.terms.to_vector()[0];
    r.positive_pairs = pairs.num_positive();
    r.negative_pairs = pairs.num_negative();
    ds = metric.dS;
    dg = metric.dG;
  }
  // The BCE is logged in every mode where there is an attribute branch (0 without one).
  BceResult bce = attr_logits.defined()
                      ? bce_with_logits(attr_logits.value(), attr_targets, use_bce ? bce_weight : 0.0f)
                      : BceResult();
  r.bce_loss = attr_logits.defined() ? bce.value.item() : 0.0;
  r.loss = (use_metric ? r.metric_loss : 0.0) + (use_bce ? bce_weight * r.bce_loss : 0.0);

  // One node holds the whole objective: its backward hands each input the gradient the fused loss kernels already
  // computed (weights included), scaled by the incoming gradient (1 when the objective is the root).
  std::vector<Variable> inputs;
  Tensor dlogits = bce.dlogits;
  const bool g_on_tape = use_g && config.sgs_grad;
  if (use_metric) inputs.push_back(s);
  if (use_metric && g_on_tape) inputs.push_back(g);
  if (use_bce) inputs.push_back(attr_logits);
  if (learned_beta) inputs.push_back(class_beta);
  Tensor value = Tensor::from_vector({float(r.loss)}, {1}, emb.value().device());
  r.total = Variable(std::move(value), std::move(inputs),
                     [use_metric, use_bce, g_on_tape, learned_beta, ds, dg, dlogits, dclass_beta](
                         std::vector<Variable>& in, const Tensor& dy) {
                       const float scale = dy.item();
                       auto scaled = [scale](const Tensor& t) {
                         if (scale == 1.0f) return t;
                         Tensor c = t.clone();
                         scale_inplace(c, scale);
                         return c;
                       };
                       size_t k = 0;
                       if (use_metric) in[k++].add_grad(scaled(ds));
                       if (use_metric && g_on_tape) in[k++].add_grad(scaled(dg));
                       if (use_bce) in[k++].add_grad(scaled(dlogits));
                       if (learned_beta) in[k++].add_grad(scaled(dclass_beta));
                     });
  if (masked) {
    MaskOrthogonality orthogonality = mask_orthogonality(learner_masks, config.mask_lambda, active);
    r.mask_loss = orthogonality.value;
    r.loss += orthogonality.value;
    r.total = fn::add(r.total, orthogonality.loss);
  }
  return r;
}

}  // namespace sgml
