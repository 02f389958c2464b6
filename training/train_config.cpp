#include "training/train_config.h"

#include "engine/check.h"
#include "training/config_fields.h"
#include "training/option_limits.h"
#include "layers/embedding_slices.h"
#include "data/image_transform.h"
#include "data/samplers.h"
#include "models/sgml_model.h"

namespace sgml {

const char* loss_mode_name(LossMode m) {
  switch (m) {
    case LossMode::Sgml: return "sgml";
    case LossMode::Multitask: return "multitask";
    case LossMode::Metric: return "metric";
    case LossMode::Attribute: return "attribute";
    case LossMode::Rank: return "rank";
    case LossMode::RankMultitask: return "rank-multitask";
    case LossMode::Margin: return "margin";
  }
  return "?";
}

LossMode parse_loss_mode(const std::string& s) {
  if (s == "sgml") return LossMode::Sgml;
  if (s == "multitask") return LossMode::Multitask;
  if (s == "metric") return LossMode::Metric;
  if (s == "attribute") return LossMode::Attribute;
  if (s == "rank") return LossMode::Rank;
  if (s == "rank-multitask") return LossMode::RankMultitask;
  if (s == "margin") return LossMode::Margin;
  SGML_FAIL("unknown --loss '", s, "': expected sgml, multitask, metric, attribute, rank, rank-multitask or margin");
}

const char* sampling_name(Sampling s) { return s == Sampling::BatchWise ? "batch" : "image"; }

Sampling parse_sampling(const std::string& s) {
  if (s == "batch") return Sampling::BatchWise;
  if (s == "image") return Sampling::ImageWise;
  SGML_FAIL("unknown --sampling '", s, "': expected batch or image");
}

std::optional<bool> parse_crop_boxes(const std::string& s) {
  if (s == "auto") return std::nullopt;
  if (s == "true") return true;
  if (s == "false") return false;
  SGML_FAIL("unknown --crop-boxes '", s, "': expected auto, true or false");
}

void check_train_config(const TrainConfig& c) {
  check_batch_size(c.batch_size(), c.sampling == Sampling::BatchWise
                                       ? str_cat("the batch of --classes-per-batch x --images-per-class = ",
                                                 c.classes_per_batch, " x ", c.images_per_class)
                                       : str_cat("the batch of 3 x --triplets-per-batch = 3 x ", c.triplets_per_batch));
  if (c.epochs < 1 && c.steps < 1) SGML_FAIL("--epochs or --steps must be positive");
  if (uses_rank_loss(c.loss) && c.sampling != Sampling::BatchWise)
    SGML_FAIL("--loss ", loss_mode_name(c.loss), " needs --sampling batch: the rank loss ranks every image of the "
              "batch for every anchor, and a batch of triplets has no such ranking");
  if (uses_margin_loss(c.loss) && c.sampling != Sampling::BatchWise)
    SGML_FAIL("--loss margin needs --sampling batch: its --sampler picks each anchor's negatives from the whole "
              "class-balanced batch");
  // Every loss but the attributes' learns from pairs of one class in the batch: batch-wise with one image per class
  // has none (the rank and margin losses would be 0 at every step; the deviance would only push classes apart).
  if (c.sampling == Sampling::BatchWise && c.loss != LossMode::Attribute && c.images_per_class < 2)
    SGML_FAIL("--loss ", loss_mode_name(c.loss),
              " needs --images-per-class 2 or more: it learns from each anchor's positives in the batch, and with "
              "one image per class there are none");
  parse_negative_sampler(c.sampler);
  parse_train_crop(c.train_crop);
  parse_crop_boxes(c.crop_boxes);
  if (c.eval_resize != 0 && c.eval_resize < c.image_size)
    SGML_FAIL("--eval-resize ", c.eval_resize, " is below --image-size ", c.image_size, ": the centre crop must fit "
              "in the resized image (use 0 to resize straight to the image size)");
  if (c.method != "sgml" && c.method != "dnc") SGML_FAIL("unknown --method '", c.method, "': expected sgml or dnc");
  if (c.learner_masks != "slices" && c.learner_masks != "learned")
    SGML_FAIL("unknown --learner-masks '", c.learner_masks, "': expected slices or learned");
  if (c.learner_masks == "slices") check_learner_slices(c.learners, c.embedding_dim);
  if (c.division != "flat" && c.division != "hierarchical")
    SGML_FAIL("unknown --division '", c.division, "': expected flat or hierarchical");
  if (c.method == "dnc" && c.division == "hierarchical" && (c.learners & (c.learners - 1)) != 0)
    SGML_FAIL("--division hierarchical doubles the learners at each re-clustering (1, 2, 4, ...): --learners must "
              "be a power of two, got ", c.learners);
  if (c.method == "dnc" && c.freeze_backbone_epochs >= c.recluster_every)
    SGML_FAIL("--freeze-backbone-epochs ", c.freeze_backbone_epochs, " must be below --recluster-every ",
              c.recluster_every, ": the backbone would never learn while the data is clustered");
  parse_class_balance(c.class_balance);  // a stored config's values
  parse_embedding_init(c.embedding_init);
  parse_mask_init(c.mask_init);
  if (parse_batches_per_epoch(c.batches_per_epoch) != BatchesPerEpoch::Plain && c.method != "dnc")
    SGML_FAIL("--batches-per-epoch ", c.batches_per_epoch, " sets the length of Divide & Conquer's clustered "
              "epochs: it needs --method dnc");
  if (parse_head(c.head) == HeadKind::Linear && (uses_bce(c.loss) || c.loss == LossMode::Sgml))
    SGML_FAIL("--head linear has no attribute branch, and --loss ", loss_mode_name(c.loss), " needs one: use --loss "
              "metric, rank or margin, or --head sgml");
  if (parse_head(c.head) == HeadKind::Linear && c.eval_feature == "fc")
    SGML_FAIL("--head linear has no fc feature: use --eval-feature emb or conv");

  // the option table allows only its values; a stored config is checked here
}

void check_loss_fits_dataset(const TrainConfig& c, int num_attributes) {
  if (num_attributes > 0 || !uses_bce(c.loss)) return;
  SGML_FAIL("dataset ", c.dataset, " has no attributes, and --loss ", loss_mode_name(c.loss), " needs them (",
            c.loss == LossMode::Sgml ? "the SGS mapping of SBDL and the BCE term" : "the BCE term",
            "): use --loss metric (the binomial deviance alone), --loss rank (the rank-approximation loss alone) or "
            "--loss margin (the margin loss)");
}

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const ConfigField& f : config_fields())
    if (f.saved) j[f.key()] = f.to_json(*this);
  return j;
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) SGML_FAIL(source, ": the stored training configuration is not a JSON object, got ", j.dump());
  TrainConfig c;
  for (const ConfigField& f : config_fields())
    if (f.saved && j.contains(f.key())) f.from_json(c, j.at(f.key()), source);
  return c;
}

}  // namespace sgml
