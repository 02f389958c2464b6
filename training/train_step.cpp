#include "training/train_step.h"

#include <cmath>

#include "engine/check.h"

namespace sgml {

namespace {

// Stops the run when the objective is NaN or infinite, before its gradients reach the parameters: naming the step
// and each term's value says which part diverged, and the checkpoints on disk keep the last finite state.
void check_finite_loss(const ObjectiveResult& r, const ObjectiveConfig& objective, int64_t step) {
  if (std::isfinite(r.loss)) return;
  const LossMode mode = objective.mode;
  const bool use_metric = mode != LossMode::Attribute, use_bce = uses_bce(mode);
  const char* metric_name = mode == LossMode::Sgml ? "metric loss (SBDL)"
                            : uses_rank_loss(mode) ? "metric loss (rank)"
                            : uses_margin_loss(mode) ? "metric loss (margin)"
                                                   : "metric loss (BDL)";
  std::string terms;
  if (use_metric) terms += str_cat(metric_name, " = ", r.metric_loss);
  if (use_bce) terms += str_cat(terms.empty() ? "" : ", ", "attribute loss (BCE) = ", r.bce_loss,
                                mode == LossMode::Attribute ? "" : str_cat(" x lambda ", objective.lambda));
  std::string culprits;
  if (use_metric && !std::isfinite(r.metric_loss)) culprits = "the metric loss";
  if (use_bce && !std::isfinite(r.bce_loss)) culprits += culprits.empty() ? "the BCE" : " and the BCE";
  if (culprits.empty()) culprits = "their weighted sum";
  SGML_FAIL("training stopped at step ", step, ": the loss is not finite (", r.loss, "): ", culprits,
            " overflowed or became NaN (", terms, "). Nothing was saved from this step: the checkpoints on disk hold "
            "the last finite state. Lower --lr, check --alpha/--lambda, or check --init/--weights for huge values.");
}

}  // namespace

nlohmann::json StepMetrics::to_json() const {
  nlohmann::json j = {{"step", step},
                      {"epoch", epoch},
                      {"loss", loss},
                      {"metric_loss", metric_loss},
                      {"lr", lr},
                      {"positive_pairs", positive_pairs},
                      {"negative_pairs", negative_pairs}};
  if (bce_loss >= 0) j["bce_loss"] = bce_loss;
  if (mask_loss >= 0) j["mask_loss"] = mask_loss;
  return j;
}

StepMetrics train_step(SgmlModel& model, AdamOptimizer& optimizer, const ObjectiveConfig& objective,
                       const TrainBatch& batch, double lr, int64_t step) {
  ParameterStore& store = model.store();
  const Device device = model.device();
  // A batch already on the model's device (the benchmark's) is used as it is; a host batch is copied there.
  const Tensor images = batch.images.device() == device ? batch.images : batch.images.to(device);
  // Dropout's mask, like the sampler's draws, depends on the run's seed and the step only (a resume redraws it).
  model.set_dropout_seed((objective.draw_seed * 0x9E3779B97F4A7C15ull + uint64_t(step)) ^ 0xD209A7ull);
  SgmlOutputs out = model.forward(Variable(images), /*training=*/true);
  // A dataset without attributes (SOP, Cars196) has batches with no attribute columns and a one-output head: its
  // targets are zeros, and only the metric loss trains (the trainer refuses the other losses for such a dataset).
  // Without an attribute branch (the linear head) there are no targets to compare.
  const Tensor targets = !out.attr_logits.defined()            ? Tensor()
                         : batch.attributes.numel() == 0       ? Tensor::zeros(out.attr_logits.value().shape(), device)
                         : batch.attributes.device() == device ? batch.attributes
                                                               : batch.attributes.to(device);
  // The distance sampler's draws depend on the run's seed and the step only: a resumed run draws the same ones.
  ObjectiveConfig step_objective = objective;
  step_objective.draw_seed = objective.draw_seed * 0x9E3779B97F4A7C15ull + uint64_t(step);
  ObjectiveResult r = sgml_objective(out.emb, out.attr_logits, batch.labels, targets, step_objective,
                                     model.margin_beta(), model.learner_masks());
  check_finite_loss(r, objective, step);
  store.zero_grads();
  r.total.backward();
  optimizer.step(store.flat_params(), store.flat_grads(), lr);
  StepMetrics m;
  m.step = step;
  m.epoch = 0;
  m.loss = r.loss;
  m.metric_loss = r.metric_loss;
  m.bce_loss = out.attr_logits.defined() ? r.bce_loss : -1.0;
  m.mask_loss = model.learner_masks().defined() ? r.mask_loss : -1.0;
  m.lr = lr;
  m.positive_pairs = r.positive_pairs;
  m.negative_pairs = r.negative_pairs;
  return m;
}

}  // namespace sgml
