#include "training/train_config.h"

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
  o.add("image-size", "224", "side of the square model input in pixels");
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
  o.add("metrics", "", "JSON-lines file of per-step metrics (default: RUN/metrics.jsonl)");
  o.add("save", "", "write all parameters and buffers after the last step to this safetensors file");
  o.add("workers", "0", "data loader threads (0: the machine's cores)");
  o.add("eval-every", "1", "epochs between evaluations on the test set (0: only at the end)");
  o.add_flag("skip-bad-images", "skip unreadable images (counted and reported) instead of stopping");
  o.add("eval-feature", "emb", "feature evaluated during training: emb | fc | conv");
  o.add("checkpoint-every", "0", "steps between checkpoints besides the epoch ends (0: epoch ends only)");
  o.allow_config_file();
}

TrainConfig train_config_from_options(const Options& o) {
  TrainConfig c;
  c.data_dir = o.get("data");
  c.model = o.get("model");
  c.weights = o.get("weights");
  c.no_pretrained = o.get_flag("no-pretrained");
  c.init = o.get("init");
  c.image_size = o.get_int("image-size");
  c.device = o.get("device");
  c.loss = parse_loss_mode(o.get("loss"));
  c.sampling = parse_sampling(o.get("sampling"));
  c.classes_per_batch = o.get_int("classes-per-batch");
  c.images_per_class = o.get_int("images-per-class");
  c.triplets_per_batch = o.get_int("triplets-per-batch");
  c.alpha = o.get_double("alpha");
  c.beta = o.get_double("beta");
  c.lambda = o.get_double("lambda");
  c.sgs_grad = parse_on_off("sgs-grad", o.get("sgs-grad"));
  c.lr = o.get_double("lr");
  c.weight_decay = o.get_double("weight-decay");
  c.lr_schedule = o.get("lr-schedule");
  c.lr_step_epochs = o.get_int("lr-step-epochs");
  c.lr_gamma = o.get_double("lr-gamma");
  c.warmup_steps = o.get_int("warmup-steps");
  c.epochs = o.get_int("epochs");
  c.steps = o.get_int("steps");
  c.seed = static_cast<unsigned>(o.get_int("seed"));
  c.out_dir = o.get("out");
  c.resume = o.get_flag("resume");
  c.batch_plan = o.get("batch-plan");
  c.augment = parse_on_off("augment", o.get("augment"));
  c.metrics_file = o.get("metrics");
  c.save_file = o.get("save");
  c.workers = o.get_int("workers");
  c.eval_every = o.get_int("eval-every");
  c.skip_bad_images = o.get_flag("skip-bad-images");
  c.eval_feature = o.get("eval-feature");
  c.checkpoint_every = o.get_int("checkpoint-every");
  SGML_CHECK(c.image_size >= 32, "--image-size must be at least 32, got ", c.image_size);
  SGML_CHECK(c.classes_per_batch >= 2 && c.images_per_class >= 1, "batch-wise sampling needs at least 2 classes per "
             "batch and 1 image per class, got ", c.classes_per_batch, " x ", c.images_per_class);
  SGML_CHECK(c.triplets_per_batch >= 1, "--triplets-per-batch must be positive");
  SGML_CHECK(c.lr > 0, "--lr must be positive, got ", c.lr);
  SGML_CHECK(c.epochs >= 1 || c.steps >= 1, "--epochs or --steps must be positive");
  SGML_CHECK(c.lr_schedule == "constant" || c.lr_schedule == "step" || c.lr_schedule == "cosine",
             "--lr-schedule must be constant, step or cosine, got '", c.lr_schedule, "'");
  return c;
}

nlohmann::json TrainConfig::to_json() const {
  return {{"dataset", dataset}, {"data", data_dir}, {"model", model}, {"weights", weights},
          {"no_pretrained", no_pretrained}, {"init", init}, {"image_size", image_size}, {"device", device},
          {"loss", loss_mode_name(loss)}, {"sampling", sampling_name(sampling)},
          {"classes_per_batch", classes_per_batch}, {"images_per_class", images_per_class},
          {"triplets_per_batch", triplets_per_batch}, {"alpha", alpha}, {"beta", beta}, {"lambda", lambda},
          {"sgs_grad", sgs_grad}, {"lr", lr}, {"weight_decay", weight_decay}, {"lr_schedule", lr_schedule},
          {"lr_step_epochs", lr_step_epochs}, {"lr_gamma", lr_gamma}, {"warmup_steps", warmup_steps},
          {"epochs", epochs}, {"steps", steps}, {"seed", seed}, {"out", out_dir}, {"batch_plan", batch_plan},
          {"augment", augment}, {"workers", workers}, {"eval_every", eval_every},
          {"skip_bad_images", skip_bad_images}, {"eval_feature", eval_feature},
          {"checkpoint_every", checkpoint_every}};
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) {
  TrainConfig c;
  auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) field = j.at(key).get<std::decay_t<decltype(field)>>();
  };
  get("dataset", c.dataset);
  get("data", c.data_dir);
  get("model", c.model);
  get("weights", c.weights);
  get("no_pretrained", c.no_pretrained);
  get("init", c.init);
  get("image_size", c.image_size);
  get("device", c.device);
  if (j.contains("loss")) c.loss = parse_loss_mode(j.at("loss").get<std::string>());
  if (j.contains("sampling")) c.sampling = parse_sampling(j.at("sampling").get<std::string>());
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
  get("out", c.out_dir);
  get("batch_plan", c.batch_plan);
  get("augment", c.augment);
  get("workers", c.workers);
  get("eval_every", c.eval_every);
  get("skip_bad_images", c.skip_bad_images);
  get("eval_feature", c.eval_feature);
  get("checkpoint_every", c.checkpoint_every);
  return c;
}

}  // namespace sgml
