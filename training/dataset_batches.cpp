#include "training/dataset_batches.h"

#include "engine/check.h"

namespace sgml {

DatasetBatchSource::DatasetBatchSource(const Dataset& dataset, const TrainConfig& config)
    : dataset_(dataset), config_(config) {
  const std::vector<int> labels = labels_of(dataset.train);
  const bool triplets = config.sampling == Sampling::ImageWise;
  if (!config.batch_plan.empty()) {
    plan_ = read_batch_plan(config.batch_plan, int(dataset.train.size()), triplets ? 3 : 1);
    steps_per_epoch_ = int64_t(plan_.size());
  } else if (triplets) {
    SGML_CHECK(num_classes(dataset.train) >= 2, "image-wise sampling needs at least 2 training classes");
    image_wise_ = std::make_unique<ImageWiseSampler>(labels, config.triplets_per_batch, config.seed);
    steps_per_epoch_ = image_wise_->steps_per_epoch();
  } else {
    SGML_CHECK(num_classes(dataset.train) >= config.classes_per_batch, "batch-wise sampling of ",
               config.classes_per_batch, " classes per batch, but the training set has ", num_classes(dataset.train),
               " classes (lower --classes-per-batch)");
    batch_wise_ = std::make_unique<BatchWiseSampler>(labels, config.classes_per_batch, config.images_per_class, config.seed);
    steps_per_epoch_ = batch_wise_->steps_per_epoch();
  }
}

std::vector<int> DatasetBatchSource::indices(int64_t step) const {
  if (!plan_.empty()) return plan_batch(plan_, step);
  return batch_wise_ ? batch_wise_->batch(step) : image_wise_->batch(step);
}

TrainBatch DatasetBatchSource::batch(int64_t step) {
  if (!loader_ || step != next_step_) {  // first call, or a seek (resume): a loader that starts at `step`
    if (loader_) skipped_before_ += loader_->bad_images_skipped();
    LoaderConfig lc;
    lc.image_size = config_.image_size;
    lc.augment = config_.augment;
    lc.seed = config_.seed;
    lc.workers = config_.workers;
    lc.first_step = step;
    lc.on_bad_image = config_.skip_bad_images ? BadImagePolicy::ReplaceWithinClass : BadImagePolicy::Fail;
    loader_ = std::make_unique<Loader>(dataset_, dataset_.train, [this](int64_t s) { return indices(s); }, lc);
  }
  Batch b = loader_->next();
  next_step_ = step + 1;
  SGML_CHECK(b.step == step && b.size() > 0, "the loader returned step ", b.step, " for step ", step);
  TrainBatch out;
  out.images = std::move(b.images);
  out.attributes = std::move(b.attributes);
  out.labels.assign(b.labels.begin(), b.labels.end());
  return out;
}

}  // namespace sgml
