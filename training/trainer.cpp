#include "training/trainer.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <omp.h>
#include <tuple>

#include "data/output_paths.h"
#include "engine/check.h"
#include "engine/math_precision.h"
#include "training/output_files.h"
#include "training/progress.h"
#include "training/dnc.h"
#include "models/arch_detect.h"
#include "training/resume_check.h"
#include "training/interrupt.h"

namespace sgml {

namespace {

// The names of the float tensors of `tensors` holding NaN or infinity, with counts ("" when none).
std::string non_finite_tensors(const TensorMap& tensors) {
  std::string list;
  int listed = 0;
  for (const auto& [name, t] : tensors) {
    if (t.dtype() != DType::F32) continue;
    const Tensor host = t.is_cuda() ? t.to(Device::cpu()) : t;
    const float* p = host.data();
    int64_t count = 0;
    for (int64_t i = 0; i < host.numel(); ++i) count += !std::isfinite(p[i]);
    if (count == 0) continue;
    if (listed < 5) list += str_cat(listed ? ", " : "", "'", name, "' (", count, " of ", host.numel(), " values)");
    ++listed;
  }
  if (listed > 5) list += str_cat(", ... (", listed, " tensors in all)");
  return list;
}

// A checkpoint's attribute head must have the dataset's width (at least 1, as initialise_model makes it): said in
// words before the loader names the mismatched shape. A CUB copy without its attribute files reads with none.
void check_attribute_head(const TensorMap& model, int num_attributes, const std::string& path, const char* use) {
  const auto it = model.find("head.attr.weight");
  if (it == model.end() || it->second.ndim() != 2) return;
  const int64_t stored = it->second.dim(0), now = std::max(1, num_attributes);
  if (stored == now) return;
  SGML_FAIL(use, ": '", path, "' has an attribute head of ", stored, " outputs, and this dataset ",
            num_attributes == 0 ? std::string("has no attributes (a CUB copy without its attribute files, or a dataset "
                                              "without attributes?)")
                                : str_cat("has ", num_attributes, " attributes"),
            ": the head cannot be loaded (", use, " needs a checkpoint of a dataset with as many attributes; --weights "
            "takes the backbone alone)");
}

}  // namespace

std::string metrics_log_path(const TrainConfig& c) {
  return !c.metrics_file.empty() ? c.metrics_file : c.out_dir.empty() ? std::string() : c.out_dir + "/metrics.jsonl";
}

Trainer::Trainer(const TrainConfig& config, std::unique_ptr<BatchSource> data, Evaluator evaluator)
    : config_(config), data_(std::move(data)), evaluator_(std::move(evaluator)), device_(parse_device(config.device)) {
  SGML_CHECK(data_ && data_->steps_per_epoch() > 0, "the training data yields no batches");
  progress_.data = data_->data_description();
  // Recorded once the run has evaluated (a run that never did compares nothing).
  evaluation_data_ = {progress_.data.evaluation, progress_.data.evaluation_files};
  progress_.data.evaluation.clear();
  progress_.data.evaluation_files.clear();
  check_loss_fits_dataset(config, data_->num_attributes());
  if (config.method == "dnc" && config.sampling != Sampling::BatchWise)
    SGML_FAIL("--method dnc needs --sampling batch: its batches are class-balanced within one cluster");
  if (config.method == "dnc" && !config.batch_plan.empty())
    SGML_FAIL("--method dnc draws its batches from clusters: it cannot follow a --batch-plan");
  // The step and cosine schedules are laid out in steps from the epoch length when the run starts.
  if (config.method == "dnc" && parse_batches_per_epoch(config.batches_per_epoch) != BatchesPerEpoch::Plain &&
      config.lr_schedule != "constant")
    SGML_FAIL("--lr-schedule ", config.lr_schedule, " needs epochs of one length, and with --batches-per-epoch ",
              config.batches_per_epoch, " each re-clustering sets its epochs' length: use --lr-schedule constant "
              "(as the Divide & Conquer authors) or --batches-per-epoch plain");
  if (config.learn_beta && !uses_margin_loss(config.loss))
    SGML_FAIL("--learn-beta learns the boundaries of the margin loss: it needs --loss margin, not --loss ",
              loss_mode_name(config.loss));
  if (config.beta_nu > 0 && !config.learn_beta)
    SGML_FAIL("--beta-nu penalises the learned boundaries of the margin loss: it needs --learn-beta");
  schedule_.kind = parse_lr_schedule_kind(config.lr_schedule);
  schedule_.base_lr = config.lr;
  schedule_.step_size = std::max<int64_t>(1, int64_t(config.lr_step_epochs) * data_->steps_per_epoch());
  schedule_.gamma = config.lr_gamma;
  schedule_.total_steps = total_steps();
  schedule_.warmup_steps = config.warmup_steps;
  schedule_.validate();
  // Process-wide, as the CUDA libraries' math modes are: the run's convolutions and products, evaluation included.
  set_math_precision(parse_math_precision(config.precision));
}

int64_t Trainer::total_steps() const {
  if (config_.steps > 0) return config_.steps;
  // The steps taken, the rest of this epoch, and the epochs left at the current length.
  return progress_.step - progress_.step_in_epoch +
         std::max<int64_t>(0, config_.epochs - progress_.epoch) * data_->steps_per_epoch();
}

bool Trainer::finished() const {
  return config_.steps > 0 ? progress_.step >= config_.steps : progress_.epoch >= config_.epochs;
}

void Trainer::initialise_model() {
  SgmlModelConfig mc;
  mc.arch = config_.model;
  // A dataset without attributes (SOP, Cars196) still gets a one-output attribute head, so that every checkpoint
  // has the same layout; the metric loss, the only one allowed there, never trains it.
  mc.num_attributes = std::max(1, data_->num_attributes());
  mc.seed = config_.seed;
  mc.frozen_batch_norm = config_.frozen_bn;
  mc.embedding_dim = config_.embedding_dim;
  mc.head = parse_head(config_.head);
  mc.embedding_init = parse_embedding_init(config_.embedding_init);
  mc.mask_init = parse_mask_init(config_.mask_init);
  mc.dropout = float(config_.dropout);
  const bool dnc = config_.method == "dnc", learned_masks = dnc && config_.learner_masks == "learned";
  mc.learners = dnc && !learned_masks ? config_.learners : 1;
  mc.learner_masks = learned_masks ? config_.learners : 0;
  if (config_.learn_beta && uses_margin_loss(config_.loss)) {
    SGML_CHECK(data_->num_classes() > 0, "--learn-beta needs the number of training classes of the data");
    mc.margin_classes = data_->num_classes();
    mc.margin_beta = float(config_.margin_beta);
  }
  model_ = std::make_unique<SgmlModel>(mc);
  // Through load_checkpoint, so that a training checkpoint (model + optimiser state) works as --init / --weights.
  // Not when resuming: the checkpoint replaces every parameter and buffer, and the files that started the run may
  // be gone by now.
  if (!config_.resume) {
    if (!config_.init.empty()) {
      const Checkpoint init = load_checkpoint(config_.init);
      check_attribute_head(init.model, data_->num_attributes(), config_.init, "--init");
      model_->load_weights(init.model, config_.init, /*require_head=*/true);
    } else if (!config_.weights.empty()) {
      const Checkpoint weights = load_checkpoint(config_.weights);
      // Another depth's file: said in those words (the loader would list the keys it misses).
      if (const std::string held = resnet_arch_or_empty(weights.model); !held.empty() && held != config_.model)
        SGML_FAIL("--weights '", config_.weights, "' holds ", held, " weights, and the run's --model is ",
                  config_.model, ": give --model ", held, " or the ", config_.model, " weights");
      model_->load_weights(weights.model, config_.weights, /*require_head=*/false);
    } else {
      SGML_CHECK(config_.no_pretrained, "no pretrained weights given (--weights FILE, see weights/README.md); "
                 "pass --no-pretrained to train from a random initialisation");
    }
  }
  model_->to(device_);
  model_->store().flatten();
  AdamConfig adam;
  adam.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<AdamOptimizer>(model_->store().parameter_count(), device_, adam);
  // The branch this loss never reaches does not step (as torch skips a parameter without a gradient): the attribute
  // branch under the losses without the BCE, the embedding under the attribute loss alone.
  const std::string unreached = !uses_bce(config_.loss)               ? "head.attr."
                                : config_.loss == LossMode::Attribute ? "head.emb."
                                                                      : "";
  for (const auto& [name, p] : model_->store().parameters())
    if (!unreached.empty() && name.rfind(unreached, 0) == 0) {
      const int64_t offset = model_->store().flat_offset_of(name);
      optimizer_->exclude(offset, offset + p.value().numel());
    }
  if (model_->margin_beta().defined()) {
    // The learned boundaries in their own group (the D&C authors' optimiser): --beta-lr, no weight decay.
    const int64_t offset = model_->store().flat_offset_of("loss.margin_beta");
    optimizer_->add_group({offset, offset + model_->margin_beta().value().numel(), config_.beta_lr / config_.lr, 0.0});
  }
  if (config_.method == "dnc" && config_.freeze_backbone_epochs > 0) {
    // The backbone (registered first: everything before the head) in a group of its own, which
    // freeze_backbone sets to rate 0 in the epochs right after a re-clustering.
    int64_t head_begin = model_->store().parameter_count();
    for (const auto& [name, p] : model_->store().parameters())
      if (name.rfind("head.", 0) == 0) head_begin = std::min(head_begin, model_->store().flat_offset_of(name));
    optimizer_->add_group({0, head_begin, 1.0, config_.weight_decay});
  }
  if (model_->learner_masks().defined()) {
    // The learned masks in their own group (the D&C authors' optimiser): --mask-lr-mult x the rate, the run's weight
    // decay (their --mask-wd-mult 1); prepare_dnc_step freezes them when the whole embedding trains.
    const int64_t offset = model_->store().flat_offset_of("loss.learner_masks");
    optimizer_->add_group({offset, offset + model_->learner_masks().value().numel(), config_.mask_lr_mult,
                           config_.weight_decay});
  }
}

DataDescription Trainer::check_same_data(const DataDescription& then, const std::string& path) {
  // The data as the constructor described it (its files stamped once, not again here).
  DataDescription now = progress_.data;
  std::tie(now.evaluation, now.evaluation_files) = evaluation_data_;
  const auto differ = [](const std::string& a, const std::string& b) { return !a.empty() && !b.empty() && a != b; };
  const std::string new_run = str_cat("start a new run without --resume (--init ", path, " starts from its weights)");
  // Batches are drawn by image index: on other data the run would go on with other images, and a clustered run's
  // assignment or learned boundaries would not fit. A moved folder (--data changed) holding the same list is fine.
  if (differ(then.training, now.training))
    SGML_FAIL("--resume: '", path, "' trained on ", then.training, "; the data now holds ", now.training,
              ": a run cannot go on on other data (its batches are drawn by image index). Give --data the run's "
              "dataset, or ",
              new_run);
  if (differ(then.training_boxes, now.training_boxes))
    SGML_FAIL("--resume: '", path, "' trained on images cropped to ",
              then.training_boxes == "none" ? "no boxes" : then.training_boxes, "; the dataset now gives ",
              now.training_boxes == "none" ? "none" : now.training_boxes,
              " (the dataset's box file changed?): a run cannot go on on other crops. Restore the "
              "boxes, or ",
              new_run);
  // The same list, boxes and test set, but files rewritten (re-encoded, re-extracted): the run can go on, and the
  // user should know that its images are not quite the ones it began with.
  if (differ(then.training_files, now.training_files))
    std::fprintf(stderr,
                 "--resume: note: training image files changed since the run last started or resumed (the size or "
                 "modification time of at least one; a copy that did not keep modification times changes "
                 "them all): it goes on with them as they are now\n");
  // Each evaluation is compared with the run's earlier ones (metrics.jsonl, its plot, best.safetensors).
  if (evaluator_ && differ(then.evaluation, now.evaluation))
    SGML_FAIL("--resume: '", path, "' was evaluated on ", then.evaluation, "; this leg would evaluate on ",
              now.evaluation,
              ": the resumed run's evaluations would not compare with its earlier ones "
              "(metrics.jsonl, best.safetensors). Give the run's test data and --eval-feature, or ",
              new_run);
  if (evaluator_ && differ(then.evaluation_files, now.evaluation_files))
    std::fprintf(stderr,
                 "--resume: note: test image files changed since the run's last evaluation (the size or "
                 "modification time of at least one; a copy that did not keep modification times changes "
                 "them all): its evaluations from here on see them as they are now\n");
  // The random crops cut the cached square or the original image: a run goes on reading what it began with.
  if (then.image_source == "files" && now.image_source == "cache") {
    data_->stop_using_cache();  // its note says so (the train command prints it)
    now.image_source = "files";
  } else if (then.image_source == "cache" && now.image_source == "files") {
    std::fprintf(stderr,
                 "--resume: note: the run read the decoded-image cache so far, which is not usable now: it "
                 "goes on reading the image files, whose random crops cut other pixels than the cache's, "
                 "so it will not match an uninterrupted run\n");
  }
  return now;
}

void Trainer::resume_from(const std::string& path) {
  Checkpoint c = load_checkpoint(path);
  SGML_CHECK(c.is_training_checkpoint, "'", path, "' is not a training checkpoint (no optimiser state)");
  const TrainConfig stored = TrainConfig::from_json(c.config, "checkpoint '" + path + "'");
  for (const std::string& note : check_resume_compatible(c.config, config_, path))
    std::fprintf(stderr, "--resume: %s\n", note.c_str());
  const DataDescription data_now = check_same_data(c.progress.data, path);
  check_attribute_head(c.model, data_->num_attributes(), path, "--resume");
  // How the run began is the checkpoint's to say: the resumed run's config.json and checkpoints keep it, whatever
  // these options say now (they are not used).
  config_.init = stored.init;
  config_.weights = stored.weights;
  config_.no_pretrained = stored.no_pretrained;
  config_.embedding_init = stored.embedding_init;
  config_.mask_init = stored.mask_init;
  model_->store().load(c.model, path, [](const std::string&) { return false; },
                       [](const std::string&) { return false; });
  optimizer_->load_state(c.optimizer, path);
  progress_ = c.progress;
  // An older checkpoint's run is described from here on; the test data its evaluations were on stays until this
  // leg evaluates (on the same, as checked).
  progress_.data = data_now;
  progress_.data.evaluation = c.progress.data.evaluation;
  progress_.data.evaluation_files = c.progress.data.evaluation_files;
  bad_images_before_ = progress_.bad_images_skipped;  // the data stream counts this run's only
  // oneDNN's and OpenMP's sums split their work by the thread count: another count rounds otherwise.
  if (!device_.is_cuda() && c.progress.cpu_threads > 0 && c.progress.cpu_threads != omp_get_max_threads())
    std::fprintf(stderr,
                 "--resume: note: the run computed on %d CPU threads so far and on %d now (OMP_NUM_THREADS, the "
                 "machine's cores): sums are rounded otherwise, so it goes on close to an uninterrupted run but not "
                 "bitwise as one\n",
                 c.progress.cpu_threads, omp_get_max_threads());
}

void Trainer::check_finite_state(const std::string& path) const {
  std::string bad = non_finite_tensors(model_->store().state_dict());
  const std::string bad_optimizer = non_finite_tensors(optimizer_->state());
  if (!bad_optimizer.empty()) bad += (bad.empty() ? "the optimiser state " : "; the optimiser state ") + bad_optimizer;
  if (bad.empty()) return;
  SGML_FAIL("training stopped after step ", progress_.step,
            ": an update made the model non-finite (NaN or infinity in ", bad, "). '", path,
            "' was not written: the checkpoints on disk hold the last finite state. Lower --lr, "
            "or check --init/--weights for huge values.");
}

void Trainer::save(const std::string& path) const {
  check_finite_state(path);  // a diverged model is never written over a good checkpoint
  save_checkpoint(path, model_->store().state_dict(), optimizer_->state(), config_.to_json(), progress_);
}

ObjectiveConfig Trainer::objective() const {
  ObjectiveConfig o{config_.loss,           config_.sampling,       float(config_.alpha),
                    float(config_.beta),    float(config_.lambda),  config_.sgs_grad,
                    float(config_.rank_tau), float(config_.rank_rho)};
  o.margin = float(config_.margin);
  o.margin_beta = float(config_.margin_beta);
  o.beta_nu = float(config_.beta_nu);
  o.mask_lambda = float(config_.mask_lambda);
  o.sampler = parse_negative_sampler(config_.sampler);
  o.draw_seed = config_.seed;  // train_step mixes in the step
  return o;
}

void Trainer::record_counters() {
  progress_.bad_images_skipped = bad_images_before_ + data_->bad_images_skipped();
  progress_.cpu_threads = omp_get_max_threads();
}

void Trainer::write_checkpoint(const std::string& path) {
  record_counters();  // first: the checkpoint carries the counters of its step (a resumed run continues from them)
  save(path);
}

void Trainer::stop_at_signal(ProgressBar* bar) {
  stopped_by_signal_ = true;
  if (bar) bar->finish();
  const std::string& out = config_.out_dir;
  if (out.empty()) return;
  write_checkpoint(out + "/last.safetensors");
  const std::string line =
      str_cat("interrupted (", interrupt_signal() == SIGTERM ? "SIGTERM" : "SIGINT", ")",
              progress_.evaluation_pending ? str_cat(" during the evaluation at step ", progress_.step) : "",
              ": checkpoint saved to ", out, "/last.safetensors (continue with --resume",
              progress_.evaluation_pending ? ", which evaluates first)" : ")");
  if (bar)
    bar->message(line);
  else
    std::fprintf(stderr, "%s\n", line.c_str());
}

void Trainer::end_epoch(MetricsLog& log, ProgressBar& bar, bool evaluate) {
  const std::string& out = config_.out_dir;
  if (evaluate && evaluator_) {
    bar.finish();
    // An evaluation after --steps ended an epoch midway is labelled with that epoch, as its steps are.
    const int epoch = progress_.epoch + (progress_.step_in_epoch > 0 ? 1 : 0);
    nlohmann::json record;
    try {
      record = evaluator_(*model_, epoch);
    } catch (const Interrupted&) {
      // Stopped midway (SIGINT, SIGTERM): the caller saves last.safetensors, and --resume evaluates it first.
      progress_.evaluation_pending = true;
      return;
    }
    progress_.evaluation_pending = false;
    const double r1 = record.at("recall@1");
    record["epoch"] = epoch;
    record["step"] = progress_.step;
    const bool best = r1 > progress_.best_recall_at_1;
    if (best) record["best"] = true;  // the evaluation of the model best.safetensors now holds
    log.write(record);
    std::tie(progress_.data.evaluation, progress_.data.evaluation_files) = evaluation_data_;
    if (best) {  // tracked with or without an output folder
      progress_.best_recall_at_1 = r1;
      if (!out.empty()) write_checkpoint(out + "/best.safetensors");
    }
  }
  if (!out.empty()) write_checkpoint(out + "/last.safetensors");
}

void Trainer::prepare_dnc_step(MetricsLog& log, ProgressBar& bar, ObjectiveConfig& objective) {
  const int epoch = progress_.epoch + 1;
  const DncPhase phase = dnc_phase(config_, epoch);
  objective.learners = config_.learners;
  if (!phase.clustered) {  // fine-tuning: all images, whole embedding, plain epochs from the phase's first on
    if (clusters_active_ || !plain_anchored_) {
      const int64_t length_before = data_->steps_per_epoch();
      data_->set_clusters({}, 0, epoch_anchor());
      if (data_->steps_per_epoch() != length_before) bar.set_total(total_steps());  // --batches-per-epoch max|min
    }
    clusters_active_ = false;
    plain_anchored_ = true;
    objective.learner = -1;
    objective.active_learners = 0;
    freeze_learner_masks(true);
    freeze_backbone(false);
    return;
  }
  const int64_t length_before = data_->steps_per_epoch();
  if (progress_.clustered_epoch != phase.clustering_epoch) {
    recluster(log, bar, phase);
  } else if (!clusters_active_) {  // a resumed run: the checkpoint's clusters, in epochs of their length
    data_->set_clusters(progress_.clusters, phase.learners, epoch_anchor());
    clusters_active_ = true;
  }
  if (data_->steps_per_epoch() != length_before) bar.set_total(total_steps());  // --batches-per-epoch max|min
  objective.active_learners = phase.learners;
  objective.learner = phase.full_embedding ? -1 : data_->cluster_of(progress_.step);
  freeze_learner_masks(objective.learner < 0);
  freeze_backbone(phase.backbone_frozen);
}

void Trainer::recluster(MetricsLog& log, ProgressBar& bar, const DncPhase& phase) {
  const int k = phase.clustered_into, epoch = progress_.epoch + 1;
  bar.message(str_cat("epoch ", epoch, ": clustering the training images into ", k, " group", k > 1 ? "s" : "",
                      " (k-means)", phase.divides() ? ", then dividing each in two" : ""));
  std::vector<int> rows;
  const Tensor features = data_->clustering_features(*model_, &rows);
  const uint64_t seed = config_.seed * 1000003ull + uint64_t(phase.clustering_epoch);
  const Clustering c = cluster_features(features, k, seed, device_);
  std::vector<int> fresh(size_t(data_->num_images()), -1);  // unreadable (skipped) images stay out
  for (size_t r = 0; r < rows.size(); ++r) fresh[size_t(rows[r])] = c.clusters[r];
  const bool first = progress_.clusters.size() != fresh.size();
  const ClusterMatch match = first ? ClusterMatch{fresh, 0.0} : match_clusters(progress_.clusters, fresh, k);
  progress_.clusters = match.clusters;
  nlohmann::json record = {{"epoch", epoch}, {"step", progress_.step + 1}, {"recluster", true},
                           {"reassignment_cost", match.cost}, {"kmeans_inertia", c.inertia},
                           {"kmeans_iterations", c.iterations}, {"first_clustering", first}};
  if (phase.divides()) {
    std::vector<int> matched(rows.size()), labels(rows.size());
    const std::vector<int> image_labels = data_->image_labels();
    SGML_CHECK(image_labels.size() == size_t(data_->num_images()),
               "--division hierarchical needs the class of every training image");
    for (size_t r = 0; r < rows.size(); ++r) {
      matched[r] = progress_.clusters[size_t(rows[r])];
      labels[r] = image_labels[size_t(rows[r])];
    }
    const Division division = divide_clusters(features, matched, labels, k, seed, device_);
    for (size_t r = 0; r < rows.size(); ++r) progress_.clusters[size_t(rows[r])] = division.clusters[r];
    split_learner_masks(k);
    record["division_trials"] = division.trials;
  }
  progress_.clustered_epoch = phase.clustering_epoch;
  data_->set_clusters(progress_.clusters, phase.learners, epoch_anchor());
  clusters_active_ = true;
  // "step": the first step that uses the clusters (a resume from the checkpoint before it drops the record and
  // clusters again, writing it once more).
  record["learners"] = phase.learners;
  record["cluster_sizes"] = data_->cluster_sizes();
  record["images_kept"] = data_->cluster_kept();
  record["epoch_steps"] = data_->steps_per_epoch();
  log.write(record);
  // A learner whose cluster keeps no images trains nothing until the next re-clustering: said, not only logged.
  std::string idle;
  int idle_count = 0;
  const std::vector<int> kept = data_->cluster_kept();
  for (size_t learner = 0; learner < kept.size(); ++learner)
    if (kept[learner] == 0) idle += str_cat(idle_count++ ? ", " : "", learner);
  if (idle_count > 0) {
    const bool one = idle_count == 1;
    bar.message(str_cat("note: epoch ", epoch, ": learner", one ? " " : "s ", idle, one ? " gets" : " get",
                        " no batches until the next re-clustering: no two classes have two images each in ",
                        one ? "its cluster" : "their clusters", " (images_kept in metrics.jsonl)"));
  }
}

void Trainer::split_learner_masks(int parents) {
  // Learner c's children 2c and 2c + 1 start as copies of its mask (from the last child down, so that no mask is
  // overwritten before it is copied). All masks are then new parameters to Adam, as the authors make them anew at
  // each division: moments and step count from zero. The slices need nothing: a child's slice is half of its
  // parent's columns (exactly when K divides d; layers/embedding_slices.h).
  if (!model_->learner_masks().defined()) return;
  const int64_t d = model_->learner_masks().value().dim(1);
  const int64_t offset = model_->store().flat_offset_of("loss.learner_masks");
  Tensor& params = model_->store().flat_params();
  for (int c = parents - 1; c >= 0; --c)
    for (int child : {2 * c + 1, 2 * c})
      if (child != c) params.view(offset + child * d, {d}).copy_from(params.view(offset + c * d, {d}));
  optimizer_->restart_group(offset);
}

void Trainer::freeze_backbone(bool frozen) {
  if (config_.freeze_backbone_epochs == 0) return;
  optimizer_->set_group_lr_scale(0, frozen ? 0.0 : 1.0);
}

void Trainer::freeze_learner_masks(bool frozen) {
  // The authors stop optimising the masks when the loss first sees the whole embedding; that phase never ends.
  if (!model_->learner_masks().defined()) return;
  optimizer_->set_group_lr_scale(model_->store().flat_offset_of("loss.learner_masks"),
                                 frozen ? 0.0 : config_.mask_lr_mult);
}

std::vector<StepMetrics> Trainer::run(bool evaluate_first) {
  SGML_CHECK(model_, "initialise_model() before run()");
  install_interrupt_handler();  // from here on a stop saves the run (before: nothing trained is lost)
  const std::string out = config_.out_dir;
  if (!out.empty()) create_output_folder(out, "run folder");
  // Files named on the command line get their folder now, not after hours of training.
  if (!config_.metrics_file.empty()) create_parent_folder(config_.metrics_file, "metrics log");
  if (!config_.save_file.empty()) create_parent_folder(config_.save_file, "--save file");
  if (!out.empty())  // partial checkpoints of a run killed mid-save (about 100 MB each)
    for (const std::string& f : remove_stale_run_temporaries(out))
      std::fprintf(stderr, "removed %s, left by an interrupted write\n", f.c_str());
  if (!out.empty() && !config_.resume && progress_.step == 0)
    if (const std::string aside = set_aside_earlier_run(out); !aside.empty())
      std::fprintf(stderr, "%s held an earlier run: its files are now in %s (to continue a run, train with --resume)\n",
                   out.c_str(), aside.c_str());
  const std::string metrics_path = metrics_log_path(config_);
  MetricsLog log;
  if (!metrics_path.empty() && progress_.step > 0)
    log.resume(metrics_path, progress_.step);  // drops records of steps after the checkpoint (a kill -9)
  else if (!metrics_path.empty())
    log.open(metrics_path, /*append=*/false);
  if (!out.empty()) write_file_atomically(out + "/config.json", config_.to_json().dump(2) + "\n");

  if (evaluate_first && evaluator_ && progress_.step == 0) {
    try {
      nlohmann::json record = evaluator_(*model_, 0);
      record["epoch"] = 0;
      record["step"] = 0;
      log.write(record);
      std::tie(progress_.data.evaluation, progress_.data.evaluation_files) = evaluation_data_;
    } catch (const Interrupted&) {  // the resumed run, at step 0, evaluates the untrained model again
      stop_at_signal(nullptr);
    }
  }

  const int64_t leg_start = progress_.step;
  ProgressBar bar(total_steps(), progress_.step);
  bool evaluated_pending = false;  // the evaluation that a stop interrupted, run first
  if (progress_.evaluation_pending && evaluator_) {
    bar.message(
        str_cat("evaluating the model of step ", progress_.step, " first: the run was stopped during that evaluation"));
    end_epoch(log, bar, /*evaluate=*/true);
    if (progress_.evaluation_pending)  // interrupted again
      stop_at_signal(&bar);
    else
      evaluated_pending = true;
  } else if (progress_.evaluation_pending) {
    bar.message(str_cat("note: the evaluation at step ", progress_.step,
                        " that stopped the run is not run again: this run does not evaluate (--eval-every)"));
    progress_.evaluation_pending = false;
  }
  // A resumed run already as long as asked (--steps below the checkpoint's).
  if (finished() && progress_.step > 0 && !stopped_by_signal_)
    bar.message(str_cat("nothing to train: the checkpoint is at step ", progress_.step,
                        " (epochs done: ", progress_.epoch, "), which already reaches ",
                        config_.steps > 0 ? str_cat("--steps ", config_.steps) : str_cat("--epochs ", config_.epochs),
                        "; its files are written again",
                        evaluated_pending ? "" : " (no evaluation: sgml eval evaluates a checkpoint)"));
  std::vector<StepMetrics> history;
  ObjectiveConfig objective_config = objective();
  bool ended_epoch = false;  // the last step closed an epoch (and ran end_epoch)
  while (!stopped_by_signal_ && !finished()) {
    if (interrupt_requested()) {
      stop_at_signal(&bar);
      break;
    }
    if (config_.method == "dnc") {
      try {
        prepare_dnc_step(log, bar, objective_config);
      } catch (const Interrupted&) {  // during a re-clustering's features: the resumed run clusters again
        stop_at_signal(&bar);
        break;
      }
    }
    const TrainBatch batch = data_->batch(progress_.step);
    StepMetrics m;
    try {
      m = train_step(*model_, *optimizer_, objective_config, batch, schedule_.lr_at(progress_.step),
                     progress_.step + 1);
    } catch (...) {
      bar.finish();  // the error goes on a line of its own
      throw;
    }
    m.epoch = progress_.epoch + 1;
    ++progress_.step;
    ++progress_.step_in_epoch;
    history.push_back(m);
    log.write(m.to_json());
    bar.update(m.step, m.epoch, m.loss, int(batch.labels.size()));
    ended_epoch = progress_.step_in_epoch >= data_->steps_per_epoch();
    if (config_.checkpoint_every > 0 && progress_.step % config_.checkpoint_every == 0 && !out.empty() && !ended_epoch)
      write_checkpoint(out + "/last.safetensors");  // (end_epoch writes it at an epoch's end)
    if (ended_epoch) {
      ++progress_.epoch;
      progress_.step_in_epoch = 0;
      end_epoch(log, bar, (config_.eval_every > 0 && progress_.epoch % config_.eval_every == 0) || finished());
      if (progress_.evaluation_pending) {
        stop_at_signal(&bar);
        break;
      }
    }
  }
  bar.finish();
  // A run that stops mid-epoch (--steps), or a resumed run that had already finished, ends as an epoch does.
  // Evaluated where this leg trained: a resumed run that had already finished has its evaluation in the log.
  if (!stopped_by_signal_ && !ended_epoch) {
    end_epoch(log, bar, /*evaluate=*/finished() && progress_.step > leg_start);
    if (progress_.evaluation_pending) stop_at_signal(&bar);
  }
  record_counters();
  if (!config_.save_file.empty()) {
    check_finite_state(config_.save_file);
    model_->save_weights(config_.save_file);
  }
  return history;
}

}  // namespace sgml
