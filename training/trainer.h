// The SGML training loop: forward through backbone and head in training mode, the objective, backward, one fused
// Adam step over the flat parameter buffer; metrics per step, checkpoints, evaluation every few epochs, Ctrl-C
// saves and exits cleanly, and a resumed run continues exactly as an uninterrupted one.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/adam.h"
#include "engine/lr_schedule.h"
#include "losses/sgml_objective.h"
#include "models/sgml_model.h"
#include "training/checkpoint.h"
#include "training/train_config.h"

namespace sgml {

// One training batch on the host.
struct TrainBatch {
  Tensor images;                // (B, 3, S, S) normalised
  std::vector<int64_t> labels;  // (B) class indices
  Tensor attributes;            // (B, K) 0/1 targets
};

// What the trainer needs from the data side: the batch of a given step (0-based, global) and the epoch length.
// Implementations must be deterministic in the step index, so that a resumed run sees the same batches.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual TrainBatch batch(int64_t step) = 0;
  virtual int64_t steps_per_epoch() const = 0;
  virtual int num_attributes() const = 0;
  virtual int bad_images_skipped() const { return 0; }
};

struct StepMetrics {
  int64_t step;  // 1-based
  int epoch;     // 1-based epoch the step belongs to
  double loss, metric_loss, bce_loss, lr;
  int64_t positive_pairs, negative_pairs;
  nlohmann::json to_json() const;
};

class Trainer {
 public:
  // Evaluation callback: returns Recall@1 (and writes whatever it reports) for the model at the end of an epoch.
  using Evaluator = std::function<double(SgmlModel& model, int epoch)>;

  Trainer(const TrainConfig& config, std::unique_ptr<BatchSource> data, Evaluator evaluator = nullptr);

  // Builds the model: --init (everything), else --weights (backbone), else a random initialisation.
  void initialise_model();
  // Restores model, optimiser and progress from a checkpoint written by this trainer.
  void resume_from(const std::string& checkpoint_path);
  // Runs until the configured steps/epochs are done or SIGINT arrives; returns the per-step metrics of this run.
  std::vector<StepMetrics> run();

  SgmlModel& model() { return *model_; }
  const TrainProgress& progress() const { return progress_; }
  int64_t total_steps() const;
  // A checkpoint of the current state; throws instead when the model or optimiser state holds NaN or infinity.
  void save(const std::string& path) const;

 private:
  StepMetrics train_step(const TrainBatch& batch, double lr);
  void check_finite_state(const std::string& path) const;  // throws naming the non-finite tensors

  TrainConfig config_;
  std::unique_ptr<BatchSource> data_;
  Evaluator evaluator_;
  Device device_;
  std::unique_ptr<SgmlModel> model_;
  std::unique_ptr<AdamOptimizer> optimizer_;
  LrSchedule schedule_;
  TrainProgress progress_;
};

// True once SIGINT (Ctrl-C) arrived after install_interrupt_handler(); the loop then checkpoints and stops.
void install_interrupt_handler();
bool interrupt_requested();
void clear_interrupt_request();

}  // namespace sgml
