// The trainer's batches from a dataset: the indices of each step come from the batch plan (--batch-plan) or the
// configured sampler (data/samplers.h: batch-wise N' x M', or image-wise triplets), and data/loader.h decodes,
// augments and normalises them on worker threads ahead of the step. Both are pure functions of (seed, step), so a
// resumed run, which starts the loader at its step, sees exactly the batches an uninterrupted one would.
#pragma once
#include <memory>

#include "data/batch_plan.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/samplers.h"
#include "training/trainer.h"

namespace sgml {

class DatasetBatchSource : public BatchSource {
 public:
  DatasetBatchSource(const Dataset& dataset, const TrainConfig& config);

  TrainBatch batch(int64_t step) override;
  int64_t steps_per_epoch() const override { return steps_per_epoch_; }
  int num_attributes() const override { return dataset_.num_attributes(); }
  int bad_images_skipped() const override { return skipped_before_ + (loader_ ? loader_->bad_images_skipped() : 0); }

 private:
  std::vector<int> indices(int64_t step) const;

  const Dataset& dataset_;
  TrainConfig config_;
  BatchPlan plan_;
  std::unique_ptr<BatchWiseSampler> batch_wise_;
  std::unique_ptr<ImageWiseSampler> image_wise_;
  int64_t steps_per_epoch_ = 0;
  std::unique_ptr<Loader> loader_;
  int64_t next_step_ = -1;  // the step the loader's next() returns
  int skipped_before_ = 0;  // bad images counted by loaders replaced on a seek
};

}  // namespace sgml
