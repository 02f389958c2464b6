#include "training/trainer.h"

#include <atomic>
#include <csignal>
#include <filesystem>

#include "engine/check.h"
#include "training/progress.h"

namespace sgml {

namespace {
std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }
}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }
bool interrupt_requested() { return g_interrupted; }
void clear_interrupt_request() { g_interrupted = false; }

nlohmann::json StepMetrics::to_json() const {
  return {{"step", step}, {"epoch", epoch}, {"loss", loss}, {"metric_loss", metric_loss}, {"bce_loss", bce_loss},
          {"lr", lr}, {"positive_pairs", positive_pairs}, {"negative_pairs", negative_pairs}};
}

Trainer::Trainer(const TrainConfig& config, std::unique_ptr<BatchSource> data, Evaluator evaluator)
    : config_(config), data_(std::move(data)), evaluator_(std::move(evaluator)), device_(parse_device(config.device)) {
  SGML_CHECK(data_ && data_->steps_per_epoch() > 0, "the training data yields no batches");
  schedule_.kind = parse_lr_schedule_kind(config.lr_schedule);
  schedule_.base_lr = config.lr;
  schedule_.step_size = std::max<int64_t>(1, int64_t(config.lr_step_epochs) * data_->steps_per_epoch());
  schedule_.gamma = config.lr_gamma;
  schedule_.total_steps = total_steps();
  schedule_.warmup_steps = config.warmup_steps;
  schedule_.validate();
}

int64_t Trainer::total_steps() const {
  return config_.steps > 0 ? config_.steps : int64_t(config_.epochs) * data_->steps_per_epoch();
}

void Trainer::initialise_model() {
  SgmlModelConfig mc;
  mc.arch = config_.model;
  mc.num_attributes = data_->num_attributes();
  mc.seed = config_.seed;
  model_ = std::make_unique<SgmlModel>(mc);
  if (!config_.init.empty()) {
    model_->load_weights(config_.init, /*require_head=*/true);
  } else if (!config_.weights.empty()) {
    model_->load_weights(config_.weights, /*require_head=*/false);
  } else {
    SGML_CHECK(config_.no_pretrained, "no pretrained weights given (--weights FILE, see weights/README.md); "
               "pass --no-pretrained to train from a random initialisation");
  }
  model_->to(device_);
  model_->store().flatten();
  AdamConfig adam;
  adam.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<AdamOptimizer>(model_->store().parameter_count(), device_, adam);
}

void Trainer::resume_from(const std::string& path) {
  Checkpoint c = load_checkpoint(path);
  SGML_CHECK(c.is_training_checkpoint, "'", path, "' is not a training checkpoint (no optimiser state)");
  const std::string arch = c.config.value("model", std::string());
  SGML_CHECK(arch == config_.model, "'", path, "' was trained with --model ", arch, ", this run asks for ", config_.model);
  model_->store().load(c.model, path, [](const std::string&) { return false; },
                       [](const std::string&) { return false; });
  optimizer_->load_state(c.optimizer);
  progress_ = c.progress;
}

void Trainer::save(const std::string& path) const {
  save_checkpoint(path, model_->store().state_dict(), optimizer_->state(), config_.to_json(), progress_);
}

StepMetrics Trainer::train_step(const TrainBatch& batch, double lr) {
  ParameterStore& store = model_->store();
  const Tensor images = device_.is_cuda() ? batch.images.to(device_) : batch.images;
  const Tensor targets = device_.is_cuda() ? batch.attributes.to(device_) : batch.attributes;
  SgmlOutputs out = model_->forward(Variable(images), /*training=*/true);
  ObjectiveConfig oc{config_.loss, config_.sampling, float(config_.alpha), float(config_.beta), float(config_.lambda),
                     config_.sgs_grad};
  ObjectiveResult r = sgml_objective(out.emb, out.attr_logits, batch.labels, targets, oc);
  store.zero_grads();
  r.total.backward();
  optimizer_->step(store.flat_params(), store.flat_grads(), lr);
  StepMetrics m;
  m.step = progress_.step + 1;
  m.epoch = int(progress_.step / data_->steps_per_epoch()) + 1;
  m.loss = r.loss;
  m.metric_loss = r.metric_loss;
  m.bce_loss = r.bce_loss;
  m.lr = lr;
  m.positive_pairs = r.positive_pairs;
  m.negative_pairs = r.negative_pairs;
  return m;
}

std::vector<StepMetrics> Trainer::run() {
  namespace fs = std::filesystem;
  SGML_CHECK(model_, "initialise_model() before run()");
  const int64_t total = total_steps(), per_epoch = data_->steps_per_epoch();
  const std::string out = config_.out_dir;
  if (!out.empty()) fs::create_directories(out);
  const std::string metrics_path = !config_.metrics_file.empty() ? config_.metrics_file
                                   : out.empty()                ? std::string()
                                                                : out + "/metrics.jsonl";
  MetricsLog log;
  if (!metrics_path.empty()) log.open(metrics_path, /*append=*/progress_.step > 0);
  if (!out.empty()) write_file_atomically(out + "/config.json", config_.to_json().dump(2) + "\n");

  install_interrupt_handler();
  ProgressBar bar(total, progress_.step);
  std::vector<StepMetrics> history;
  bool evaluated_last = false;
  while (progress_.step < total) {
    if (interrupt_requested()) {
      bar.finish();
      if (!out.empty()) {
        save(out + "/last.safetensors");
        bar.message("interrupted: checkpoint saved to " + out + "/last.safetensors (continue with --resume)");
      }
      break;
    }
    const TrainBatch batch = data_->batch(progress_.step);
    const StepMetrics m = train_step(batch, schedule_.lr_at(progress_.step));
    ++progress_.step;
    progress_.step_in_epoch = progress_.step % per_epoch;
    history.push_back(m);
    log.write(m.to_json());
    bar.update(m.step, m.epoch, m.loss, int(batch.labels.size()));
    evaluated_last = false;
    if (config_.checkpoint_every > 0 && progress_.step % config_.checkpoint_every == 0 && !out.empty())
      save(out + "/last.safetensors");
    if (progress_.step % per_epoch == 0) {
      progress_.epoch = int(progress_.step / per_epoch);
      const bool eval_now = evaluator_ && ((config_.eval_every > 0 && progress_.epoch % config_.eval_every == 0) ||
                                           progress_.step == total);
      if (eval_now) {
        bar.finish();
        const double r1 = evaluator_(*model_, progress_.epoch);
        evaluated_last = true;
        log.write({{"epoch", progress_.epoch}, {"step", progress_.step}, {"recall@1", r1}});
        if (r1 > progress_.best_recall_at_1) {
          progress_.best_recall_at_1 = r1;
          if (!out.empty()) save(out + "/best.safetensors");
        }
      }
      if (!out.empty()) save(out + "/last.safetensors");
    }
  }
  bar.finish();
  if (!interrupt_requested()) {
    if (evaluator_ && !evaluated_last && progress_.step == total) {
      const double r1 = evaluator_(*model_, progress_.epoch);
      log.write({{"epoch", progress_.epoch}, {"step", progress_.step}, {"recall@1", r1}});
      if (r1 > progress_.best_recall_at_1 && !out.empty()) {
        progress_.best_recall_at_1 = r1;
        save(out + "/best.safetensors");
      }
    }
    if (!out.empty()) save(out + "/last.safetensors");
  }
  progress_.bad_images_skipped = data_->bad_images_skipped();
  if (!config_.save_file.empty()) model_->save_weights(config_.save_file);
  return history;
}

}  // namespace sgml
