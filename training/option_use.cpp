#include "training/option_use.h"

#include "losses/sgml_objective.h"

namespace sgml {

namespace {

bool margin_loss(const TrainConfig& c) { return uses_margin_loss(c.loss); }
bool rank_loss(const TrainConfig& c) { return uses_rank_loss(c.loss); }
bool learned_beta(const TrainConfig& c) { return c.learn_beta; }
bool divide_and_conquer(const TrainConfig& c) { return c.method == "dnc"; }
bool learned_masks(const TrainConfig& c) { return c.method == "dnc" && c.learner_masks == "learned"; }
bool linear_head(const TrainConfig& c) { return c.head == "linear"; }
bool step_schedule(const TrainConfig& c) { return c.lr_schedule == "step"; }
bool augmented(const TrainConfig& c) { return c.augment; }
bool sampled_batch_wise(const TrainConfig& c) { return c.sampling == Sampling::BatchWise && c.batch_plan.empty(); }
bool batch_wise(const TrainConfig& c) { return c.sampling == Sampling::BatchWise; }
bool image_wise(const TrainConfig& c) { return c.sampling == Sampling::ImageWise; }
// The losses whose metric term is the (soft-)binomial deviance (losses/sgml_objective.cpp).
bool binomial_deviance(const TrainConfig& c) {
  return c.loss == LossMode::Sgml || c.loss == LossMode::Multitask || c.loss == LossMode::Metric;
}
// The losses that weigh a BCE term by lambda (--loss attribute is the BCE alone, weight 1).
bool weighted_bce(const TrainConfig& c) { return uses_bce(c.loss) && c.loss != LossMode::Attribute; }
bool sgml_loss(const TrainConfig& c) { return c.loss == LossMode::Sgml; }

}  // namespace

const std::vector<OptionUse>& option_uses() {
  static const std::vector<OptionUse> uses = {
      {"margin", margin_loss, "--loss margin"},
      {"margin-beta", margin_loss, "--loss margin"},
      {"sampler", margin_loss, "--loss margin"},
      {"beta-lr", learned_beta, "--learn-beta"},
      {"rank-tau", rank_loss, "--loss rank or rank-multitask"},
      {"rank-rho", rank_loss, "--loss rank or rank-multitask"},
      {"learners", divide_and_conquer, "--method dnc"},
      {"recluster-every", divide_and_conquer, "--method dnc"},
      {"full-embedding-epoch", divide_and_conquer, "--method dnc"},
      {"finetune-epoch", divide_and_conquer, "--method dnc"},
      {"learner-masks", divide_and_conquer, "--method dnc"},
      {"division", divide_and_conquer, "--method dnc"},
      {"freeze-backbone-epochs", divide_and_conquer, "--method dnc"},
      {"stop-reclustering", divide_and_conquer, "--method dnc"},
      {"mask-lr-mult", learned_masks, "--method dnc --learner-masks learned"},
      {"mask-lambda", learned_masks, "--method dnc --learner-masks learned"},
      {"mask-init", learned_masks, "--method dnc --learner-masks learned"},
      {"embedding-init", linear_head, "--head linear"},
      {"lr-step-epochs", step_schedule, "--lr-schedule step"},
      {"lr-gamma", step_schedule, "--lr-schedule step"},
      {"train-crop", augmented, "--augment on"},
      {"class-balance", sampled_batch_wise, "--sampling batch and no --batch-plan"},
      {"classes-per-batch", batch_wise, "--sampling batch"},
      {"images-per-class", batch_wise, "--sampling batch"},
      {"triplets-per-batch", image_wise, "--sampling image"},
      {"alpha", binomial_deviance, "--loss sgml, multitask or metric"},
      {"beta", binomial_deviance, "--loss sgml, multitask or metric"},
      {"lambda", weighted_bce, "--loss sgml, multitask or rank-multitask"},
      {"sgs-grad", sgml_loss, "--loss sgml"},
  };
  return uses;
}

const OptionUse* find_option_use(const std::string& name) {
  for (const OptionUse& use : option_uses())
    if (name == use.option) return &use;
  return nullptr;
}

}  // namespace sgml
