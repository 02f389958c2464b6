#include "training/config_fields.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "data/path_text.h"
#include "engine/check.h"

namespace sgml {

namespace {

namespace L = limits;
using C = TrainConfig;

// Builds one table row: the name, member and help, then only what differs from the defaults of ConfigField.
struct Row {
  ConfigField f;
  Row(const char* name, ConfigMember member, const char* help) {
    f.name = name;
    f.member = member;
    f.help = help;
  }
  Row& style(FieldStyle s) { f.style = s; return *this; }
  Row& ints(IntRange r) { f.ints = r; return *this; }
  Row& reals(RealRange r) { f.reals = r; return *this; }
  Row& choices(std::vector<std::string> c) { f.choices = std::move(c); return *this; }
  Row& shown_default(const char* text) { f.default_text = text; return *this; }
  Row& not_saved() { f.saved = false; return *this; }
  Row& positional() { f.option = false; return *this; }
  operator ConfigField() const { return f; }
};

const FieldStyle kPath = FieldStyle::Path, kFlag = FieldStyle::Flag, kOnOff = FieldStyle::OnOff;

std::vector<ConfigField> make_fields() {
  return {
      Row("dataset", &C::dataset, "demo | deepfashion | cub | sop | cars | demo-cub (the command's argument)")
          .positional(),
      Row("data", &C::data_dir, "dataset folder")
          .style(kPath)
          .shown_default("demo_data/inshop for demo, demo_data/cub for demo-cub; deepfashion, cub, sop and cars need "
                         "it, see README"),
      Row("crop-boxes", &C::crop_boxes,
          "crop every image to its bounding box: auto (the dataset's protocol: cub cropped as in the SGML paper, "
          "cars whole) | true (--crop-boxes alone) | false (whole images, as Divide & Conquer's authors read cub); "
          "sop and deepfashion have no boxes; eval crops as the checkpoint's run did unless given either way")
          .style(FieldStyle::AutoFlag)
          .choices({"auto", "true", "false"}),
      Row("model", &C::model, "resnet18 | resnet34 | resnet50 | resnet101 | resnet152")
          .choices({"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"}),
      Row("weights", &C::weights, "pretrained backbone, safetensors with torchvision names")
          .style(kPath)
          .shown_default("weights/MODEL.safetensors"),
      Row("no-pretrained", &C::no_pretrained, "train from a random initialisation when no pretrained weights are given")
          .style(kFlag),
      Row("init", &C::init,
          "every parameter and buffer by name, head included (deterministic mode; overrides --weights)")
          .style(kPath),
      Row("image-size", &C::image_size, "side of the square model input in pixels (32 to 1024)")
          .style(FieldStyle::ImageSize),
      Row("device", &C::device, "cpu | cuda | cuda:N | auto"),
      Row("precision", &C::precision,
          "fp32 (strict float32) | tf32 (TF32 tensor cores for CUDA convolutions and matrix products; the CPU "
          "always computes in fp32)")
          .choices({"fp32", "tf32"}),
      Row("loss", &C::loss,
          "sgml (SBDL + lambda*BCE) | multitask (BDL + lambda*BCE) | metric (BDL) | attribute (BCE) | rank (RANK) | "
          "rank-multitask (RANK + lambda*BCE); RANK is our reconstruction, from the abstract only, of the "
          "rank-approximation loss of Schall et al. 2019 (see --rank-tau, README), not the paper's code; also "
          "margin (the margin loss of Wu et al. 2017, see --margin)"),
      Row("sampling", &C::sampling,
          "batch (N' classes x M' images, all pairs) | image (anchor, positive, negative triplets)"),
      Row("classes-per-batch", &C::classes_per_batch, "N' of batch-wise sampling").ints(L::kClassesPerBatch),
      Row("images-per-class", &C::images_per_class, "M' of batch-wise sampling").ints(L::kImagesPerClass),
      Row("class-balance", &C::class_balance,
          "batch-wise sampling where classes fall short: fixed (a class with fewer than M' images repeats some; a "
          "Divide & Conquer cluster with fewer than N' classes gives smaller batches) | adaptive (the D&C authors' "
          "'adaptbalanced': every batch keeps N' x M' images, none twice: with fewer than N' classes each gives "
          "more images, and the places a short class leaves go to other images)")
          .choices({"fixed", "adaptive"}),
      Row("triplets-per-batch", &C::triplets_per_batch, "triplets per batch of image-wise sampling")
          .ints(L::kTripletsPerBatch),
      // alpha scales the similarities inside the deviance (0 flattens it, < 0 inverts it); lambda weighs the BCE
      // (< 0 would reward wrong attributes); all three reach the loss kernels as floats.
      Row("alpha", &C::alpha, "scale alpha of the (soft-)binomial deviance loss").reals(L::kPositiveFloat),
      Row("beta", &C::beta, "translation beta of the (soft-)binomial deviance loss").reals(L::kAnyFloat),
      Row("lambda", &C::lambda, "weight lambda of the BCE attribute loss").reals(L::kNonNegativeFloat),
      Row("sgs-grad", &C::sgs_grad, "on: gradients flow into the attribute branch through g; off: g is a constant")
          .style(kOnOff),
      Row("rank-tau", &C::rank_tau,
          "temperature tau of the smoothed rank r_ij = mean over k != i,j of sigmoid((s_ik - s_ij)/tau) of "
          "--loss rank and rank-multitask (0.001 to 1)")
          .reals(L::kRankTau),
      Row("rank-rho", &C::rank_rho,
          "scale rho of the rank loss's transfer f = exp(-r/rho); loss (1-f)^2 on positives, f^2 on negatives "
          "(0.01 to 10)")
          .reals(L::kRankRho),
      Row("margin", &C::margin,
          "margin m of --loss margin (Wu et al. 2017): relu(D_ap - beta + m) on positive pairs, relu(beta - D_an + m) "
          "on sampled negatives, D the distance of the normalised embeddings (0 to 2)")
          .reals(L::kMargin),
      Row("margin-beta", &C::margin_beta, "boundary beta of --loss margin (0 to 2)").reals(L::kMarginBeta),
      Row("learn-beta", &C::learn_beta,
          "--loss margin: learn one beta per training class (starting at --margin-beta; Adam at --beta-lr, "
          "without weight decay)")
          .style(kFlag),
      Row("beta-lr", &C::beta_lr,
          "Adam learning rate of the --learn-beta boundaries (their own group, as in the D&C authors' code: no "
          "weight decay, scaled by --lr-schedule as --lr is). Distances lie in 0 to 2, and Adam moves a value by "
          "about its rate per step: at --lr 1e-5 a boundary would barely move in a run")
          .reals(L::kNonNegativeFloat),
      Row("beta-nu", &C::beta_nu,
          "--learn-beta: L1 penalty nu * sum over the triplets of |beta of the anchor's class|, added before the "
          "division by the count of non-zero terms (Wu et al.'s nu; 0 in their and the D&C authors' defaults)")
          .reals(L::kNonNegativeFloat),
      Row("sampler", &C::sampler,
          "negatives of --loss margin: distance (weighted by 1/q(d), each drawn on its own, Wu et al.) | "
          "distance-distinct (the same weights, an anchor's negatives drawn without replacement, the D&C "
          "follow-up's) | nearest (the nearest at distance >= 0.5, the D&C CVPR code's); not --sampling, which "
          "builds the batches")
          .choices({"distance", "distance-distinct", "nearest"}),
      Row("method", &C::method,
          "sgml (one embedding, the paper's training) | dnc (Divide & Conquer, Sanakoyeu et al. 2019: --learners "
          "slices of the embedding, each trained on one k-means cluster of the training images)")
          .choices({"sgml", "dnc"}),
      Row("learners", &C::learners,
          "K of --method dnc: learners = clusters = slices of the embedding (or masks, --learner-masks learned; "
          "the final count with --division hierarchical)")
          .ints(L::kLearners),
      Row("recluster-every", &C::recluster_every, "--method dnc: epochs between k-means re-clusterings")
          .ints(L::kPositive),
      Row("full-embedding-epoch", &C::full_embedding_epoch,
          "--method dnc: after this many epochs the loss uses the whole embedding (the authors' e >= E, epochs from "
          "0; batches still from clusters; 0: never)")
          .ints(L::kNonNegative),
      Row("finetune-epoch", &C::finetune_epoch,
          "--method dnc: after this many epochs no clusters: plain batch-wise sampling, whole embedding (the "
          "authors' e >= F, epochs from 0; 0: never)")
          .ints(L::kNonNegative),
      Row("batches-per-epoch", &C::batches_per_epoch,
          "--method dnc: the length of an epoch: plain (the batch-wise epoch, ceil(classes / N') steps, with "
          "clusters as without) | max or min (the authors' loaders': a clustered epoch has rounds of one batch from "
          "each cluster, as many as the largest or smallest cluster has batches, its kept images over the batch "
          "size, rounded down; an epoch without clusters (fine-tuning, --learners 1) the training images of classes "
          "with two or more over the batch size, rounded down; needs --lr-schedule constant)")
          .choices({"plain", "max", "min"}),
      Row("learner-masks", &C::learner_masks,
          "--method dnc: how the learners divide the embedding: slices (the CVPR 2019 paper: learner k owns d/K "
          "dimensions) | learned (the authors' TPAMI 2021 follow-up: learner k weights all d dimensions by relu(mask "
          "k), masks starting at ones, learned at --mask-lr-mult x --lr with an orthogonality term, frozen from "
          "--full-embedding-epoch; evaluation uses the unmasked embedding)")
          .choices({"slices", "learned"}),
      Row("division", &C::division,
          "--method dnc: flat (K clusters from the first clustering on) | hierarchical (the authors' TPAMI 2021 "
          "follow-up: 1 learner, then each re-clustering divides every cluster in two by 2-means of its images, "
          "1, 2, 4, ... up to --learners, a power of two; a new learner starts from its parent's slice half or mask)")
          .choices({"flat", "hierarchical"}),
      Row("stop-reclustering", &C::stop_reclustering,
          "--method dnc: cluster no more after the first clustering (--division flat) or the one that reaches "
          "--learners (hierarchical), and freeze the backbone no more after it (the follow-up's --stop-recluster)")
          .style(kFlag),
      Row("freeze-backbone-epochs", &C::freeze_backbone_epochs,
          "--method dnc: the backbone does not learn in the first N epochs after each re-clustering, only the "
          "embedding layer (and masks) adapt to the new clusters (the follow-up's --mod-epoch-freeze; below "
          "--recluster-every; 0: never)")
          .ints(L::kNonNegative),
      Row("mask-lr-mult", &C::mask_lr_mult,
          "--learner-masks learned: the masks' learning rate is this times --lr (scaled by --lr-schedule as --lr is; "
          "weight decay as --weight-decay)")
          .reals(L::kNonNegativeFloat),
      Row("mask-lambda", &C::mask_lambda,
          "--learner-masks learned: weight of the masks' mean pairwise cosine similarity, added to the loss while "
          "the learners train on their clusters")
          .reals(L::kNonNegativeFloat),
      Row("mask-init", &C::mask_init,
          "--learner-masks learned: ones (the follow-up's default) | normal (one draw of N(0.9, 0.7) per dimension, "
          "the same for every learner: their --masking-init normal)")
          .choices({"ones", "normal"}),
      Row("embedding-dim", &C::embedding_dim, "width d of the embedding layer head.emb").ints(L::kEmbeddingDim),
      Row("head", &C::head,
          "sgml (the paper's head: fc 1024 + ReLU, then the embedding and attribute layers) | linear (Divide & "
          "Conquer's: one embedding layer on the pooled feature, each learner's rows Xavier-initialised; no "
          "attribute branch, so --loss metric, rank or margin)")
          .choices({"sgml", "linear"}),
      Row("embedding-init", &C::embedding_init,
          "--head linear: how the embedding layer starts: xavier (each learner's rows Xavier normal, gain 1: the D&C "
          "CVPR code) | torch (PyTorch's nn.Linear default, weight and bias uniform in +-1/sqrt(F): the TPAMI "
          "follow-up's)")
          .choices({"xavier", "torch"}),
      Row("dropout", &C::dropout,
          "dropout probability on the pooled backbone feature in training (Divide & Conquer: 0.01; 0 to 0.95)")
          .reals(L::kDropout),
      Row("lr", &C::lr, "Adam learning rate").reals(L::kPositiveFloat),
      Row("weight-decay", &C::weight_decay, "L2 weight decay (added to the gradient, as torch.optim.Adam)")
          .reals(L::kNonNegativeFloat),
      Row("lr-schedule", &C::lr_schedule,
          "constant | step (x lr-gamma every lr-step-epochs) | cosine (to 0 over the run)")
          .choices({"constant", "step", "cosine"}),
      Row("lr-step-epochs", &C::lr_step_epochs, "epochs between learning-rate drops of the step schedule")
          .ints(L::kPositive),
      Row("lr-gamma", &C::lr_gamma, "factor of each drop of the step schedule").reals(L::kFactor),
      Row("warmup-steps", &C::warmup_steps, "linear learning-rate warm-up steps").ints(L::kNonNegative),
      Row("epochs", &C::epochs, "training epochs").ints(L::kEpochs),
      Row("steps", &C::steps,
          "the run's length in steps, over which the learning-rate schedule is laid out (0: --epochs)")
          .ints(L::kSteps),
      Row("seed", &C::seed, "seed of initialisation, sampling and augmentation").ints(L::kNonNegative),
      Row("out", &C::out_dir, "run directory").style(kPath).shown_default("runs/DATASET"),
      Row("resume", &C::resume, "continue from the last checkpoint in the run directory").style(kFlag).not_saved(),
      Row("batch-plan", &C::batch_plan, "file of training-image indices, one line per step (deterministic mode)")
          .style(kPath),
      Row("augment", &C::augment, "on: a random crop (--train-crop) and horizontal flip; off: the evaluation transform")
          .style(kOnOff),
      Row("train-crop", &C::train_crop,
          "the augmentation's crop: sgml (the SGML paper's: 0.9-1.0 of the area at the image's aspect ratio) | "
          "random-resized (torchvision's RandomResizedCrop, the Divide & Conquer authors': 0.08-1.0 of the area, "
          "aspect ratio 3/4-4/3)")
          .choices({"sgml", "random-resized"}),
      Row("eval-resize", &C::eval_resize,
          "the evaluation transform: 0 (the image, or its box, resized to --image-size squared, the SGML paper's) "
          "| R >= --image-size (torchvision's Resize(R) + CenterCrop: shorter side to R, then the centre square; "
          "the Divide & Conquer authors' 256 for 224); also D&C's clustering features and --augment off")
          .ints(L::kEvalResize),
      Row("frozen-bn", &C::frozen_bn,
          "freeze batch norm: every BN layer normalises with its running statistics and never updates them "
          "(gradients still flow; gamma and beta still learn), as Divide & Conquer fine-tunes")
          .style(kFlag),
      Row("metrics", &C::metrics_file, "JSON-lines file of per-step metrics")
          .style(kPath)
          .shown_default("RUN/metrics.jsonl")
          .not_saved(),
      Row("save", &C::save_file, "write all parameters and buffers after the last step to this safetensors file")
          .style(kPath)
          .not_saved(),
      Row("workers", &C::workers, "data loader threads (0: the machine's cores; at most 256)").ints(L::kWorkers),
      Row("eval-every", &C::eval_every,
          "epochs between evaluations on the test set, after the untrained model's (epoch 0) first (0: that "
          "one and the end only; -1: never)")
          .ints(L::kEvalEvery),
      Row("skip-bad-images", &C::skip_bad_images, "skip unreadable images (counted and reported) instead of stopping")
          .style(kFlag),
      Row("eval-feature", &C::eval_feature, "feature evaluated during training: emb | fc | conv")
          .choices({"emb", "fc", "conv"}),
      Row("checkpoint-every", &C::checkpoint_every,
          "steps between checkpoints besides the epoch ends (0: epoch ends only)")
          .ints(L::kNonNegative),
  };
}

// The shortest text that reads back as the same double ("0.0001", not "0.00010000000000000001").
std::string shortest_text(double x) {
  char buffer[40];
  // A whole number as one (100, not the shortest %g's 1e+02); 2^53 and above are not all exact.
  if (x == std::floor(x) && std::fabs(x) < 9007199254740992.0) {
    std::snprintf(buffer, sizeof buffer, "%.0f", x);
    return buffer;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, x);
    if (std::strtod(buffer, nullptr) == x) break;
  }
  return buffer;
}

[[noreturn]] void fail_field(const std::string& source, const std::string& key, const char* expected,
                             const nlohmann::json& v) {
  SGML_FAIL(source, ": field \"", key, "\" of the stored training configuration must be ", expected, ", got ",
            v.dump());
}

template <class T>
bool fits(const nlohmann::json& v) {
  return v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                                : v.get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                      v.get<int64_t>() <= int64_t(std::numeric_limits<T>::max());
}

}  // namespace

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = make_fields();
  return fields;
}

const ConfigField* find_config_field(const std::string& name) {
  std::string wanted = name;
  for (char& ch : wanted)
    if (ch == '_') ch = '-';
  for (const ConfigField& f : config_fields())
    if (f.name == wanted) return &f;
  return nullptr;
}

std::string ConfigField::key() const {
  std::string k = name;
  for (char& ch : k)
    if (ch == '-') ch = '_';
  return k;
}

std::string ConfigField::text(const TrainConfig& c) const {
  return std::visit(
      [&](auto m) -> std::string {
        const auto& v = c.*m;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) return v;
        else if constexpr (std::is_same_v<T, bool>) return style == FieldStyle::OnOff ? (v ? "on" : "off")
                                                                                       : (v ? "true" : "false");
        else if constexpr (std::is_same_v<T, double>) return shortest_text(v);
        else if constexpr (std::is_same_v<T, LossMode>) return loss_mode_name(v);
        else if constexpr (std::is_same_v<T, Sampling>) return sampling_name(v);
        else return std::to_string(v);
      },
      member);
}

nlohmann::json ConfigField::to_json(const TrainConfig& c) const {
  // Paths through path_to_json: a file name need not be UTF-8, and JSON text must be (dump would throw).
  if (style == FieldStyle::Path) return path_to_json(c.*std::get<std::string TrainConfig::*>(member));
  return std::visit(
      [&](auto m) -> nlohmann::json {
        const auto& v = c.*m;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, LossMode> || std::is_same_v<T, Sampling>) return text(c);
        else return v;
      },
      member);
}

// Checks the JSON type first: the library's own type errors name neither the file nor the field.
void ConfigField::from_json(TrainConfig& c, const nlohmann::json& v, const std::string& source) const {
  const std::string k = key();
  if (style == FieldStyle::Path) {
    const std::optional<std::string> path = path_from_json(v);
    if (!path) fail_field(source, k, "a path (a string, or {\"hex\": ...} for a name that is not UTF-8)", v);
    c.*std::get<std::string TrainConfig::*>(member) = *path;
    return;
  }
  std::visit(
      [&](auto m) {
        auto& field = c.*m;
        using T = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (!v.is_boolean()) fail_field(source, k, "true or false", v);
          field = v.get<bool>();
        } else if constexpr (std::is_same_v<T, double>) {
          if (!v.is_number()) fail_field(source, k, "a number", v);
          field = v.get<double>();
        } else if constexpr (std::is_integral_v<T>) {
          if (!v.is_number_integer()) fail_field(source, k, "an integer", v);
          if (!fits<T>(v)) fail_field(source, k, "an integer in range", v);
          field = v.get<T>();
        } else {
          if constexpr (std::is_same_v<T, std::string>) {
            // A bool is how runs stored --crop-boxes before it had auto: false then meant "not given" (cub cropped
            // all the same), so it reads as auto; --config files refuse it (Options::load_config), being ambiguous.
            if (style == FieldStyle::AutoFlag && v.is_boolean()) {
              field = v.get<bool>() ? "true" : "auto";
              return;
            }
          }
          if (!v.is_string()) fail_field(source, k, "a string", v);
          if constexpr (std::is_same_v<T, std::string>) {
            field = v.get<std::string>();
          } else {
            try {
              if constexpr (std::is_same_v<T, LossMode>) field = parse_loss_mode(v.get<std::string>());
              else field = parse_sampling(v.get<std::string>());
            } catch (const Error& e) {
              SGML_FAIL(source, ": the stored training configuration: ", e.what());
            }
          }
        }
      },
      member);
}

std::string format_config(const TrainConfig& c) {
  std::string out;
  for (const ConfigField& f : config_fields()) out += "  " + f.name + " = " + f.text(c) + "\n";
  return out;
}

}  // namespace sgml
