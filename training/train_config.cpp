#include "training/train_config.h"

#include <cstdint>
#include <limits>
#include <type_traits>

#include "data/path_text.h"
#include "engine/check.h"
#include "tools/commands/options.h"

namespace sgml {

const char* loss_mode_name(LossMode m) {
  switch (m) {
    case LossMode::Sgml: return "sgml";
    case LossMode::Multitask: return "multitask";
    case LossMode::Metric: return "metric";
    case LossMode::Attribute: return "attribute";
  }
  return "?";
}

LossMode parse_loss_mode(const std::string& s) {
  if (s == "sgml") return LossMode::Sgml;
  if (s == "multitask") return LossMode::Multitask;
  if (s == "metric") return LossMode::Metric;
  if (s == "attribute") return LossMode::Attribute;
  SGML_FAIL("unknown --loss '", s, "': expected sgml, multitask, metric or attribute");
}

const char* sampling_name(Sampling s) { return s == Sampling::BatchWise ? "batch" : "image"; }

Sampling parse_sampling(const std::string& s) {
  if (s == "batch") return Sampling::BatchWise;
  if (s == "image") return Sampling::ImageWise;
  SGML_FAIL("unknown --sampling '", s, "': expected batch or image");
}

namespace {
bool parse_on_off(const std::string& name, const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  SGML_FAIL("--", name, " expects on or off, got '", v, "'");
}
}  // namespace

void declare_train_options(Options& o) {
  o.add("data", "", "dataset folder (default: demo_data/ for demo; see README for deepfashion and cub)");
  o.add("model", "resnet101", "resnet18 | resnet34 | resnet50 | resnet101 | resnet152");
  o.add("weights", "", "pretrained backbone, safetensors with torchvision names (default: weights/MODEL.safetensors)");
  o.add_flag("no-pretrained", "train from a random initialisation when no pretrained weights are given");
  o.add("init", "", "every parameter and buffer by name, head included (deterministic mode; overrides --weights)");
  o.add("image-size", "224", "side of the square model input in pixels (32 to 1024)");
  o.add("device", "auto", "cpu | cuda | auto");
  o.add("loss", "sgml", "sgml (SBDL + lambda*BCE) | multitask (BDL + lambda*BCE) | metric (BDL) | attribute (BCE)");
  o.add("sampling", "batch", "batch (N' classes x M' images, all pairs) | image (anchor, positive, negative triplets)");
  o.add("classes-per-batch", "41", "N' of batch-wise sampling");
  o.add("images-per-class", "4", "M' of batch-wise sampling");
  o.add("triplets-per-batch", "60", "triplets per batch of image-wise sampling");
  o.add("alpha", "2", "scale alpha of the (soft-)binomial deviance loss");
  o.add("beta", "0.5", "translation beta of the (soft-)binomial deviance loss");
  o.add("lambda", "1", "weight lambda of the BCE attribute loss");
  o.add("sgs-grad", "on", "on: gradients flow into the attribute branch through g; off: g is a constant");
  o.add("lr", "1e-4", "Adam learning rate");
  o.add("weight-decay", "0", "L2 weight decay (added to the gradient, as torch.optim.Adam)");
  o.add("lr-schedule", "constant", "constant | step (x lr-gamma every lr-step-epochs) | cosine (to 0 over the run)");
  o.add("lr-step-epochs", "10", "epochs between learning-rate drops of the step schedule");
  o.add("lr-gamma", "0.1", "factor of each drop of the step schedule");
  o.add("warmup-steps", "0", "linear learning-rate warm-up steps");
  o.add("epochs", "10", "training epochs");
  o.add("steps", "0", "stop after this many steps (0: run the epochs)");
  o.add("seed", "0", "seed of initialisation, sampling and augmentation");
  o.add("out", "", "run directory (default: runs/DATASET)");
  o.add_flag("resume", "continue from the last checkpoint in the run directory");
  o.add("batch-plan", "", "file of training-image indices, one line per step (deterministic mode)");
  o.add("augment", "on", "on: random scale crop 0.9-1.0 and horizontal flip; off: the evaluation transform");
  o.add_flag("frozen-bn", "freeze batch norm: every BN layer normalises with its running statistics and never updates "
                          "them (gradients still flow; gamma and beta still learn), as Divide & Conquer fine-tunes");
  o.add("metrics", "", "JSON-lines file of per-step metrics (default: RUN/metrics.jsonl)");
  o.add("save", "", "write all parameters and buffers after the last step to this safetensors file");
  o.add("workers", "0", "data loader threads (0: the machine's cores; at most 256)");
  o.add("eval-every", "1", "epochs between evaluations on the test set (0: only at the end; -1: never)");
  o.add_flag("skip-bad-images", "skip unreadable images (counted and reported) instead of stopping");
  o.add("eval-feature", "emb", "feature evaluated during training: emb | fc | conv");
  o.add("checkpoint-every", "0", "steps between checkpoints besides the epoch ends (0: epoch ends only)");
  o.allow_config_file();
}

TrainConfig train_config_from_options(const Options& o) {
  namespace L = limits;
  TrainConfig c;
  c.data_dir = o.get("data");
  c.model = o.get("model");
  c.weights = o.get("weights");
  c.no_pretrained = o.get_flag("no-pretrained");
  c.init = o.get("init");
  c.image_size = o.get_image_size("image-size");
  c.device = o.get("device");
  c.loss = parse_loss_mode(o.get("loss"));
  c.sampling = parse_sampling(o.get("sampling"));
  c.classes_per_batch = o.get_int("classes-per-batch", L::kClassesPerBatch);
  c.images_per_class = o.get_int("images-per-class", L::kImagesPerClass);
  c.triplets_per_batch = o.get_int("triplets-per-batch", L::kTripletsPerBatch);
  // alpha scales the similarities inside the deviance (0 flattens it, < 0 inverts it); lambda weighs the BCE
  // (< 0 would reward wrong attributes); all three reach the loss kernels as floats.
  c.alpha = o.get_double("alpha", L::kPositiveFloat);
  c.beta = o.get_double("beta", L::kAnyFloat);
  c.lambda = o.get_double("lambda", L::kNonNegativeFloat);
  c.sgs_grad = parse_on_off("sgs-grad", o.get("sgs-grad"));
  c.lr = o.get_double("lr", L::kPositiveFloat);
  c.weight_decay = o.get_double("weight-decay", L::kNonNegativeFloat);
  c.lr_schedule = o.get("lr-schedule");
  c.lr_step_epochs = o.get_int("lr-step-epochs", L::kPositive);
  c.lr_gamma = o.get_double("lr-gamma", L::kFactor);
  c.warmup_steps = o.get_int("warmup-steps", L::kNonNegative);
  c.epochs = o.get_int("epochs", L::kEpochs);
  c.steps = o.get_int("steps", L::kSteps);
  c.seed = static_cast<unsigned>(o.get_int("seed", L::kNonNegative));
  c.out_dir = o.get("out");
  c.resume = o.get_flag("resume");
  c.batch_plan = o.get("batch-plan");
  c.augment = parse_on_off("augment", o.get("augment"));
  c.frozen_bn = o.get_flag("frozen-bn");
  c.metrics_file = o.get("metrics");
  c.save_file = o.get("save");
  c.workers = o.get_int("workers", L::kWorkers);
  c.eval_every = o.get_int("eval-every", L::kEvalEvery);
  c.skip_bad_images = o.get_flag("skip-bad-images");
  c.eval_feature = o.get("eval-feature");
  c.checkpoint_every = o.get_int("checkpoint-every", L::kNonNegative);
  check_batch_size(c.batch_size(), c.sampling == Sampling::BatchWise
                                       ? str_cat("the batch of --classes-per-batch x --images-per-class = ",
                                                 c.classes_per_batch, " x ", c.images_per_class)
                                       : str_cat("the batch of 3 x --triplets-per-batch = 3 x ", c.triplets_per_batch));
  if (c.epochs < 1 && c.steps < 1) SGML_FAIL("--epochs or --steps must be positive");
  if (c.lr_schedule != "constant" && c.lr_schedule != "step" && c.lr_schedule != "cosine")
    SGML_FAIL("--lr-schedule must be constant, step or cosine, got '", c.lr_schedule, "'");
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  // Paths through path_to_json: a file name need not be UTF-8, and JSON text must be (dump would throw).
  return {{"dataset", dataset}, {"data", path_to_json(data_dir)}, {"model", model}, {"weights", path_to_json(weights)},
          {"no_pretrained", no_pretrained}, {"init", path_to_json(init)}, {"image_size", image_size}, {"device", device},
          {"loss", loss_mode_name(loss)}, {"sampling", sampling_name(sampling)},
          {"classes_per_batch", classes_per_batch}, {"images_per_class", images_per_class},
          {"triplets_per_batch", triplets_per_batch}, {"alpha", alpha}, {"beta", beta}, {"lambda", lambda},
          {"sgs_grad", sgs_grad}, {"lr", lr}, {"weight_decay", weight_decay}, {"lr_schedule", lr_schedule},
          {"lr_step_epochs", lr_step_epochs}, {"lr_gamma", lr_gamma}, {"warmup_steps", warmup_steps},
          {"epochs", epochs}, {"steps", steps}, {"seed", seed}, {"out", path_to_json(out_dir)}, {"batch_plan", path_to_json(batch_plan)},
          {"augment", augment}, {"frozen_bn", frozen_bn}, {"workers", workers}, {"eval_every", eval_every},
          {"skip_bad_images", skip_bad_images}, {"eval_feature", eval_feature},
          {"checkpoint_every", checkpoint_every}};
}

namespace {

[[noreturn]] void fail_field(const std::string& source, const char* key, const char* expected, const nlohmann::json& v) {
  SGML_FAIL(source, ": field \"", key, "\" of the stored training configuration must be ", expected, ", got ",
            v.dump());
}

// Reads j[key] into field when present, checking its JSON type first (the library's own type errors name neither
// the file nor the field).
template <class T>
void read_field(const nlohmann::json& j, const std::string& source, const char* key, T& field) {
  if (!j.contains(key)) return;
  const nlohmann::json& v = j.at(key);
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) fail_field(source, key, "a string", v);
    field = v.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) fail_field(source, key, "true or false", v);
    field = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) fail_field(source, key, "an integer", v);
    const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                                             : v.get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                                   v.get<int64_t>() <= int64_t(std::numeric_limits<T>::max());
    if (!fits) fail_field(source, key, "an integer in range", v);
    field = v.get<T>();
  } else {
    if (!v.is_number()) fail_field(source, key, "a number", v);
    field = v.get<T>();
  }
}

void read_path(const nlohmann::json& j, const std::string& source, const char* key, std::string& field) {
  if (!j.contains(key)) return;
  const std::optional<std::string> path = path_from_json(j.at(key));
  if (!path) fail_field(source, key, "a path (a string, or {\"hex\": ...} for a name that is not UTF-8)", j.at(key));
  field = *path;
}

}  // namespace

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) SGML_FAIL(source, ": the stored training configuration is not a JSON object, got ", j.dump());
  TrainConfig c;
  auto get = [&](const char* key, auto& field) { read_field(j, source, key, field); };
  std::string loss = loss_mode_name(c.loss), sampling = sampling_name(c.sampling);
  get("loss", loss);
  get("sampling", sampling);
  try {
    c.loss = parse_loss_mode(loss);
    c.sampling = parse_sampling(sampling);
  } catch (const Error& e) {
    SGML_FAIL(source, ": the stored training configuration: ", e.what());
  }
  get("dataset", c.dataset);
  read_path(j, source, "data", c.data_dir);
  get("model", c.model);
  read_path(j, source, "weights", c.weights);
  get("no_pretrained", c.no_pretrained);
  read_path(j, source, "init", c.init);
  get("image_size", c.image_size);
  get("device", c.device);
  get("classes_per_batch", c.classes_per_batch);
  get("images_per_class", c.images_per_class);
  get("triplets_per_batch", c.triplets_per_batch);
  get("alpha", c.alpha);
  get("beta", c.beta);
  get("lambda", c.lambda);
  get("sgs_grad", c.sgs_grad);
  get("lr", c.lr);
  get("weight_decay", c.weight_decay);
  get("lr_schedule", c.lr_schedule);
  get("lr_step_epochs", c.lr_step_epochs);
  get("lr_gamma", c.lr_gamma);
  get("warmup_steps", c.warmup_steps);
  get("epochs", c.epochs);
  get("steps", c.steps);
  get("seed", c.seed);
  read_path(j, source, "out", c.out_dir);
  read_path(j, source, "batch_plan", c.batch_plan);
  get("augment", c.augment);
  get("frozen_bn", c.frozen_bn);
  get("workers", c.workers);
  get("eval_every", c.eval_every);
  get("skip_bad_images", c.skip_bad_images);
  get("eval_feature", c.eval_feature);
  get("checkpoint_every", c.checkpoint_every);
  return c;
}

}  // namespace sgml
