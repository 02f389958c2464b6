// The SGML training loop: one training step per batch (training/train_step.h: forward, objective, backward, one
// fused Adam step over the flat parameter buffer); metrics per step, checkpoints, evaluation every few epochs, Ctrl-C
// saves and exits cleanly, and a resumed run continues exactly as an uninterrupted one.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/adam.h"
#include "engine/check.h"
#include "data/samplers.h"  // EpochAnchor
#include "engine/lr_schedule.h"
#include "losses/sgml_objective.h"
#include "models/sgml_model.h"
#include "training/dnc.h"
#include "training/checkpoint.h"
#include "training/progress.h"
#include "training/train_config.h"
#include "training/train_step.h"

namespace sgml {

// What the trainer needs from the data side: the batch of a given step (0-based, global) and the epoch length.
// Implementations must be deterministic in the step index, so that a resumed run sees the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual TrainBatch batch(int64_t step) = 0;
  // The length of the current epoch: fixed, but for Divide & Conquer's clustered epochs of --batches-per-epoch max
  // or min, whose length each set_clusters sets.
  virtual int64_t steps_per_epoch() const = 0;
  virtual int num_attributes() const = 0;
  virtual int num_classes() const { return 0; }  // training classes (labels lie in [0, num_classes)); 0: unknown
  virtual int bad_images_skipped() const { return 0; }  // over this source's life (not a resumed run's earlier part)
  // Divide & Conquer (training/dnc.h); a source without them refuses --method dnc. clustering_features: (N, F)
  // pooled backbone features of the N training images (evaluation transform); a row's image index is its position,
  // an image that could not be read (skipped) has index -1 in `kept` order: `rows` says which image each row is.
  virtual Tensor clustering_features(SgmlModel& model, std::vector<int>* rows) {
    (void)model, (void)rows;
    SGML_FAIL("this training data cannot be clustered (--method dnc)");
  }
  virtual int num_images() const { return 0; }
  // Batches from these clusters from `anchor` on (one id in [0, k) or -1 per training image); empty: no clusters,
  // plain batch-wise epochs from `anchor` on.
  virtual void set_clusters(const std::vector<int>& clusters, int k, EpochAnchor anchor) {
    (void)clusters, (void)k, (void)anchor;
  }
  virtual int cluster_of(int64_t step) const { (void)step; return -1; }  // the cluster of step's batch, or -1
  // Per cluster: its images, and those kept (in classes with >= 2 images in it).
  virtual std::vector<int> cluster_sizes() const { return {}; }
  virtual std::vector<int> cluster_kept() const { return {}; }
  // The class of each training image (num_images), for --division hierarchical; empty: unknown.
  virtual std::vector<int> image_labels() const { return {}; }
  // What the run trains and evaluates on, for --resume to check it is the same (fields "": not known, not checked).
  virtual DataDescription data_description() const { return {}; }
  // Reads the image files from here on instead of the decoded-image cache (a resumed run that began without it).
  virtual void stop_using_cache() {}
};

class Trainer {
 public:
  // Evaluation callback: the metrics of the model (an object that holds "recall@1": best.safetensors follows it),
  // which the trainer logs with the epoch and step; epoch 0 is the model before training.
  using Evaluator = std::function<nlohmann::json(SgmlModel& model, int epoch)>;

  Trainer(const TrainConfig& config, std::unique_ptr<BatchSource> data, Evaluator evaluator = nullptr);

  // Builds the model: --init (everything), else --weights (backbone), else a random initialisation.
  void initialise_model();
  // Restores model, optimiser and progress from a checkpoint written by this trainer.
  void resume_from(const std::string& checkpoint_path);
  // Runs until the configured steps/epochs are done or SIGINT/SIGTERM arrives; returns the per-step metrics of this
  // run. With evaluate_first, a run that has not trained yet is evaluated first and logged as epoch 0 (the untrained
  // model's figure, to compare the trained one with; it does not compete for best.safetensors).
  std::vector<StepMetrics> run(bool evaluate_first = false);

  SgmlModel& model() { return *model_; }
  const TrainProgress& progress() const { return progress_; }
  // Whether run() stopped at a SIGINT or SIGTERM before the run was done (its checkpoint saved).
  bool stopped_by_signal() const { return stopped_by_signal_; }
  // The run's steps: --steps, or --epochs of the current epoch length (an estimate while Divide & Conquer's
  // clusters set the epochs' lengths: --batches-per-epoch max or min).
  int64_t total_steps() const;
  // A checkpoint of the current state; throws instead when the model or optimiser state holds NaN or infinity.
  void save(const std::string& path) const;

 private:
  ObjectiveConfig objective() const;
  // --resume: refuses other training images, boxes or (when evaluating) test data than the checkpoint's `then`,
  // and keeps reading the images from where the run began (the files, though a cache was prepared since).
  // Returns the data as this run goes on with it.
  DataDescription check_same_data(const DataDescription& then, const std::string& path);
  // The test data's description and its files' stamps, into progress_ once the run evaluates on them.
  std::pair<std::string, std::string> evaluation_data_;
  void check_finite_state(const std::string& path) const;  // throws naming the non-finite tensors
  void record_counters();  // the data side's counters (bad images skipped) into progress_
  // record_counters(), then save(path).
  void write_checkpoint(const std::string& path);
  // The one end of an epoch (or of a run that stops mid-epoch): the evaluation when `evaluate` (logged, the best
  // Recall@1 tracked, best.safetensors written when it improves), then last.safetensors.
  void end_epoch(MetricsLog& log, ProgressBar& bar, bool evaluate);
  // At SIGINT or SIGTERM: last.safetensors (unless the run has no folder), said on `bar` (or stderr when null), and
  // stopped_by_signal(); --resume continues from there.
  void stop_at_signal(ProgressBar* bar);
  // --method dnc, before each step: the clusters of the step's epoch (re-clustering and logging when due, or the
  // checkpoint's after a resume) and the objective's learner for the step.
  void prepare_dnc_step(MetricsLog& log, ProgressBar& bar, ObjectiveConfig& objective);
  // The clustering at the start of the phase's clustering epoch: k-means into phase.clustered_into groups matched
  // to the previous ones, divided in two each when the phase divides; logged to `log`.
  void recluster(MetricsLog& log, ProgressBar& bar, const DncPhase& phase);
  // --division hierarchical with learned masks: the `parents` masks copied to their children 2c and 2c + 1, and
  // the masks' Adam group restarted (new parameters, as the authors make them).
  void split_learner_masks(int parents);
  // --learner-masks learned: the masks' Adam group at rate 0 (frozen) or --mask-lr-mult.
  void freeze_learner_masks(bool frozen);
  // --freeze-backbone-epochs: the backbone's Adam group at rate 0 (frozen) or 1.
  void freeze_backbone(bool frozen);
  // Whether the run has reached --steps, or else the end of its --epochs.
  bool finished() const;
  // The first step of the current epoch, and its 0-based index: where epochs of the current length count from.
  EpochAnchor epoch_anchor() const { return {progress_.step - progress_.step_in_epoch, progress_.epoch}; }

  TrainConfig config_;
  std::unique_ptr<BatchSource> data_;
  Evaluator evaluator_;
  Device device_;
  std::unique_ptr<SgmlModel> model_;
  std::unique_ptr<AdamOptimizer> optimizer_;
  LrSchedule schedule_;
  TrainProgress progress_;
  int bad_images_before_ = 0;  // skipped before this run's data stream started (a resumed run's checkpoint)
  bool clusters_active_ = false;  // the data source has progress_.clusters (dnc)
  bool plain_anchored_ = false;   // the data source's plain epochs start at the fine-tune phase's (dnc)
  bool stopped_by_signal_ = false;
};

// The run's metrics log: --metrics FILE, else OUT/metrics.jsonl ("" without either).
std::string metrics_log_path(const TrainConfig& config);

}  // namespace sgml
