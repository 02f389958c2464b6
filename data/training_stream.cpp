#include "data/training_stream.h"

#include <algorithm>
#include <map>

#include "data/image_cache.h"
#include "engine/check.h"

namespace sgml {

TrainingStream::TrainingStream(const Dataset& dataset, const TrainingStreamConfig& config)
    : dataset_(dataset), config_(config) {
  const std::vector<int> labels = labels_of(dataset.train);
  if (!config.batch_plan.empty()) {
    plan_ = read_batch_plan(config.batch_plan, int(dataset.train.size()), config.image_wise ? 3 : 1);
  } else if (config.image_wise) {
    image_wise_.emplace(labels, config.triplets_per_batch, config.seed);
  } else {
    batch_wise_.emplace(labels, config.classes_per_batch, config.images_per_class, config.seed,
                        config.class_balance);
    // The D&C authors' loader without clusters (their fine-tuning and K = 1 baseline: one cluster) has its images
    // over the batch size batches, rounded down, after dropping the classes of a single image, as for a cluster.
    const int64_t batch_size = int64_t(config.classes_per_batch) * config.images_per_class;
    std::map<int, int64_t> images_of_class;
    for (int label : labels) ++images_of_class[label];
    int64_t kept = 0;
    for (const auto& [label, count] : images_of_class) kept += count >= 2 ? count : 0;
    plain_steps_per_epoch_ = config.dnc_epoch_length == BatchesPerEpoch::Plain
                                 ? batch_wise_->steps_per_epoch()
                                 : std::max<int64_t>(1, kept / batch_size);
  }
  if (config.use_cache) {
    cache_ = cache_for_transform(dataset, config.image_size, loader_config(0), &cache_note_);
  }
}

LoaderConfig TrainingStream::loader_config(int64_t first_step) const {
  LoaderConfig c;
  c.image_size = config_.image_size;
  c.augment = config_.augment;
  c.train_crop = config_.train_crop;
  c.eval_resize = config_.eval_resize;
  c.seed = config_.seed;
  c.workers = config_.workers;
  c.prefetch = config_.prefetch;
  c.first_step = first_step;
  c.on_bad_image = config_.skip_bad_images ? BadImagePolicy::ReplaceWithinClass : BadImagePolicy::Fail;
  return c;
}

void TrainingStream::retire_loader() {
  if (loader_) {
    earlier_bad_ += loader_->bad_images_skipped();
    for (const auto& p : loader_->bad_image_paths())
      if (std::find(earlier_bad_paths_.begin(), earlier_bad_paths_.end(), p) == earlier_bad_paths_.end())
        earlier_bad_paths_.push_back(p);
  }
  loader_.reset();  // joins the old workers first
}

std::vector<int> TrainingStream::indices(int64_t step) const {
  if (!plan_.empty()) return plan_batch(plan_, step);
  if (cluster_wise_) return cluster_wise_->batch(step);
  return image_wise_ ? image_wise_->batch(step) : batch_wise_->batch(step + plain_step_shift_);
}

void TrainingStream::set_clusters(const std::vector<int>& clusters, int num_clusters, EpochAnchor anchor) {
  SGML_CHECK(batch_wise_, "cluster-wise batches need batch-wise sampling without a batch plan");
  retire_loader();  // joins the workers, which call indices(), before the sampler changes
  next_step_ = -1;
  cluster_wise_.reset();
  if (clusters.empty()) {
    plain_step_shift_ = anchor.epoch * plain_steps_per_epoch_ - anchor.step;
    return;
  }
  cluster_wise_.emplace(labels_of(dataset_.train), clusters, num_clusters, config_.classes_per_batch,
                        config_.images_per_class, config_.seed, plain_steps_per_epoch_,
                        config_.dnc_epoch_length, anchor, config_.class_balance);
}

void TrainingStream::stop_using_cache() {
  if (!cache_) return;
  retire_loader();
  cache_note_ = "decoded-image cache not used: " + cache_->json_path() +
                " (prepared since the run began: the run read the image files so far and goes on so, as the "
                "cache's random crops would cut other pixels)";
  cache_.reset();
}

int64_t TrainingStream::steps_per_epoch() const {
  if (!plan_.empty()) return int64_t(plan_.size());
  if (cluster_wise_) return cluster_wise_->steps_per_epoch();
  return image_wise_ ? image_wise_->steps_per_epoch() : plain_steps_per_epoch_;
}

Batch TrainingStream::batch(int64_t step) {
  SGML_CHECK(step >= 0, "training step ", step);
  if (!loader_ || step != next_step_) {
    retire_loader();
    loader_ = std::make_unique<Loader>(dataset_, dataset_.train, [this](int64_t t) { return indices(t); },
                                       loader_config(step), cache_);
  }
  next_step_ = step + 1;
  return loader_->next();
}

int TrainingStream::bad_images_skipped() const { return earlier_bad_ + (loader_ ? loader_->bad_images_skipped() : 0); }

std::vector<std::string> TrainingStream::bad_image_paths() const {
  std::vector<std::string> out = earlier_bad_paths_;
  if (loader_)
    for (const auto& p : loader_->bad_image_paths())
      if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
  return out;
}

}  // namespace sgml
