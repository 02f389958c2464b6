// The trainer's one end of epoch and its one training step (training/train_step.h):
// - the best Recall@1 is tracked with or without an output folder (it used to be kept only with one when the run
//   stopped mid-epoch);
// - counters (skipped images) are recorded before the checkpoint that carries them (they used to be recorded after
//   the last checkpoint, so every checkpoint held 0), and a resumed run continues from the checkpoint's count;
// - train_step, which `sgml bench train` times, is the trainer's step: the same losses and parameters.
// ResNet-18 at 32 px on random images, on the CPU.
#include <gtest/gtest.h>

#include <memory>

#include "tests/support/test_support.h"
#include "training/trainer.h"

using namespace sgml;

namespace {

// Two classes of two random images per batch, three attributes; `bad_per_batch` images "skipped" per batch asked.
class CountingBatches : public BatchSource {
 public:
  CountingBatches(int64_t steps_per_epoch, int bad_per_batch)
      : per_epoch_(steps_per_epoch), bad_per_batch_(bad_per_batch) {}
  TrainBatch batch(int64_t step) override {
    skipped_ += bad_per_batch_;
    TrainBatch b;
    b.images = test::random_tensor({4, 3, 32, 32}, unsigned(step) + 1);
    b.labels = {0, 0, 1, 1};
    b.attributes = Tensor::from_vector({1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0}, {4, 3});
    return b;
  }
  int64_t steps_per_epoch() const override { return per_epoch_; }
  int num_attributes() const override { return 3; }
  int bad_images_skipped() const override { return skipped_; }

 private:
  int64_t per_epoch_;
  int bad_per_batch_, skipped_ = 0;
};

TrainConfig tiny_config(const std::string& out, int64_t steps) {
  TrainConfig c;
  c.model = "resnet18";
  c.no_pretrained = true;
  c.image_size = 32;
  c.device = "cpu";
  c.classes_per_batch = 2;
  c.images_per_class = 2;
  c.lr = 1e-3;
  c.steps = steps;
  c.eval_every = 0;  // at the end only
  c.out_dir = out;
  return c;
}

}  // namespace

TEST(TrainerEpochEnd, BestRecallTrackedWithoutAnOutputFolder) {
  for (int64_t steps : {2, 3}) {  // ending on an epoch boundary, and mid-epoch
    SCOPED_TRACE(steps);
    int evaluations = 0;
    Trainer trainer(tiny_config("", steps), std::make_unique<CountingBatches>(2, 0), [&](SgmlModel&, int) {
      ++evaluations;
      return nlohmann::json{{"recall@1", 0.25}};
    });
    trainer.initialise_model();
    trainer.run();
    EXPECT_EQ(evaluations, 1);
    EXPECT_EQ(trainer.progress().best_recall_at_1, 0.25);
  }
}

TEST(TrainerEpochEnd, CheckpointsCarryTheSkippedImagesOfTheirStep) {
  const std::string dir = test::scratch_dir("epoch_end_counts");
  double recall = 0.1;
  // Improves every time: best written each time.
  auto evaluator = [&](SgmlModel&, int) { return nlohmann::json{{"recall@1", recall += 0.1}}; };
  TrainConfig c = tiny_config(dir, 3);
  c.eval_every = 1;
  Trainer trainer(c, std::make_unique<CountingBatches>(1, 2), evaluator);  // 2 per batch, one batch per epoch
  trainer.initialise_model();
  trainer.run();
  EXPECT_EQ(load_checkpoint(dir + "/last.safetensors").progress.bad_images_skipped, 6);
  EXPECT_EQ(load_checkpoint(dir + "/best.safetensors").progress.bad_images_skipped, 6);
  EXPECT_EQ(trainer.progress().bad_images_skipped, 6);

  // Resumed after 2 of 4 steps: the new data source counts from zero, the checkpoint's count continues.
  const std::string part = test::scratch_dir("epoch_end_counts_resumed");
  Trainer first(tiny_config(part, 2), std::make_unique<CountingBatches>(1, 2), evaluator);
  first.initialise_model();
  first.run();
  EXPECT_EQ(load_checkpoint(part + "/last.safetensors").progress.bad_images_skipped, 4);
  Trainer second(tiny_config(part, 4), std::make_unique<CountingBatches>(1, 2), evaluator);
  second.initialise_model();
  second.resume_from(part + "/last.safetensors");
  second.run();
  EXPECT_EQ(load_checkpoint(part + "/last.safetensors").progress.bad_images_skipped, 8);
}

TEST(TrainStep, IsTheTrainersStep) {
  // Two steps through the trainer, and the same two through train_step from the same initialisation.
  TrainConfig c = tiny_config("", 2);
  Trainer trainer(c, std::make_unique<CountingBatches>(2, 0));
  trainer.initialise_model();
  const Tensor start = trainer.model().store().flat_params().clone();
  const std::vector<StepMetrics> steps = trainer.run();

  SgmlModelConfig mc;
  mc.arch = c.model;
  mc.num_attributes = 3;
  mc.seed = c.seed;
  SgmlModel model(mc);
  model.store().flatten();
  model.store().flat_params().copy_from(start);
  AdamConfig adam_config;
  adam_config.weight_decay = c.weight_decay;
  AdamOptimizer adam(model.store().parameter_count(), Device::cpu(), adam_config);
  const ObjectiveConfig objective{c.loss, c.sampling, float(c.alpha), float(c.beta), float(c.lambda), c.sgs_grad};
  CountingBatches data(2, 0);
  ASSERT_EQ(steps.size(), 2u);
  for (int64_t t = 0; t < 2; ++t) {
    const StepMetrics m = train_step(model, adam, objective, data.batch(t), steps[size_t(t)].lr, t + 1);
    EXPECT_EQ(m.step, steps[size_t(t)].step);
    EXPECT_EQ(m.loss, steps[size_t(t)].loss);
    EXPECT_EQ(m.bce_loss, steps[size_t(t)].bce_loss);
  }
  EXPECT_EQ(test::relative_error(model.store().flat_params(), trainer.model().store().flat_params()), 0.0);
}
