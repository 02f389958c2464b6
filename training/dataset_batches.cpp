#include "training/dataset_batches.h"

#include "engine/check.h"

namespace sgml {

TrainingStreamConfig DatasetBatchSource::stream_config(const TrainConfig& c) {
  TrainingStreamConfig s;
  s.image_wise = c.sampling == Sampling::ImageWise;
  s.classes_per_batch = c.classes_per_batch;
  s.images_per_class = c.images_per_class;
  s.triplets_per_batch = c.triplets_per_batch;
  s.batch_plan = c.batch_plan;
  s.image_size = c.image_size;
  s.augment = c.augment;
  s.seed = c.seed;
  s.workers = c.workers;
  s.skip_bad_images = c.skip_bad_images;
  return s;
}

DatasetBatchSource::DatasetBatchSource(const Dataset& dataset, const TrainConfig& config)
    : stream_(dataset, stream_config(config)),
      num_attributes_(dataset.num_attributes()),
      num_classes_(dataset.num_train_classes()) {}

TrainBatch DatasetBatchSource::batch(int64_t step) {
  Batch b = stream_.batch(step);
  SGML_CHECK(b.step == step && b.size() > 0, "the data stream returned step ", b.step, " for step ", step);
  TrainBatch out;
  out.images = std::move(b.images);
  out.attributes = std::move(b.attributes);
  out.labels.assign(b.labels.begin(), b.labels.end());
  return out;
}

}  // namespace sgml
