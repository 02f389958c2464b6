// The training batches of a dataset as a trainer asks for them: batch(step) for steps in order, each loaded by the
// Loader while the previous one trains. It picks the index source (a batch plan when given, else batch-wise or
// image-wise sampling), the decoded-image cache (when `sgml prepare` made one at the image size) and the bad-image
// policy (stop, or replace within the class with skip_bad_images). Asking for a step out of order (a resumed run)
// restarts the loader at that step; the batches are the same as an uninterrupted run's.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/batch_plan.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/samplers.h"

namespace sgml {

struct TrainingStreamConfig {
  bool image_wise = false;  // false: batch-wise (N' x M'); true: image-wise (T triplets, a, p, n, ...)
  int classes_per_batch = 41, images_per_class = 4, triplets_per_batch = 60;
  ClassBalance class_balance = ClassBalance::Fixed;  // batch-wise batches (data/samplers.h)
  std::string batch_plan;   // when set, the batches of this file (cycled), indices into dataset.train
  int image_size = 224;
  bool augment = true;
  TrainCrop train_crop = TrainCrop::Sgml;  // data/image_transform.h
  int eval_resize = 0;                     // applies with augment off
  uint64_t seed = 0;
  int workers = 0, prefetch = 2;
  bool skip_bad_images = false;
  bool use_cache = true;
  // Divide & Conquer's epochs (set_clusters). Plain: the batch-wise epoch, with and without clusters. Max or Min: the
  // authors' loaders' lengths: clustered epochs as ClusterBatchSampler's, epochs without clusters (fine-tuning, one
  // learner) of the training images over the batch size N' x M', rounded down, at least 1 (batch-wise only).
  BatchesPerEpoch dnc_epoch_length = BatchesPerEpoch::Plain;
};

class TrainingStream {
 public:
  TrainingStream(const Dataset& dataset, const TrainingStreamConfig& config);  // `dataset` must outlive it

  Batch batch(int64_t step);
  std::vector<int> indices(int64_t step) const;  // the images of a step, without loading them
  // The length of the current epochs: the plain one, or the clusters' (set_clusters).
  int64_t steps_per_epoch() const;
  // Divide & Conquer: from `anchor` on, batches come from clusters (data/samplers.h, ClusterBatchSampler) of the
  // batch-wise configuration, in epochs of config.dnc_epoch_length; an empty `clusters` goes back to plain
  // batch-wise sampling, whose epochs then start at `anchor`. Batch-wise streams only (no batch plan). The loader
  // restarts at the next batch asked for.
  void set_clusters(const std::vector<int>& clusters, int num_clusters, EpochAnchor anchor);
  // The cluster of a step's batch, or -1 without clusters.
  int cluster_of(int64_t step) const { return cluster_wise_ ? cluster_wise_->cluster_of(step) : -1; }
  const ClusterBatchSampler* cluster_sampler() const { return cluster_wise_ ? &*cluster_wise_ : nullptr; }
  int bad_images_skipped() const;  // over the whole run
  std::vector<std::string> bad_image_paths() const;
  // One line for the start of a run: "decoded-image cache: PATH", or why a present one is not used, or "".
  const std::string& cache_note() const { return cache_note_; }
  bool uses_cache() const { return cache_ != nullptr; }  // images come from the cache, not their files
  const std::shared_ptr<const ImageCache>& cache() const { return cache_; }  // null: the image files
  // Reads the image files from the next batch on (a resumed run that began without the cache goes on so).
  void stop_using_cache();

 private:
  void retire_loader();  // counts its bad images, then stops it
  LoaderConfig loader_config(int64_t first_step) const;

  const Dataset& dataset_;
  TrainingStreamConfig config_;
  BatchPlan plan_;
  std::optional<BatchWiseSampler> batch_wise_;
  std::optional<ImageWiseSampler> image_wise_;
  std::optional<ClusterBatchSampler> cluster_wise_;
  // The length of a batch-wise epoch without clusters (config.dnc_epoch_length); the sampler's own passes over the
  // classes (ceil(classes / N') batches) need not coincide with it: they go on across epochs.
  int64_t plain_steps_per_epoch_ = 0;
  // Added to a step for the plain batch-wise sampler, so that its epochs start where the trainer's do after
  // clustered epochs of other lengths (0 while every epoch has the plain length).
  int64_t plain_step_shift_ = 0;
  std::shared_ptr<const ImageCache> cache_;
  std::string cache_note_;
  std::unique_ptr<Loader> loader_;
  int64_t next_step_ = -1;  // the step loader_ returns next
  int earlier_bad_ = 0;     // bad images met by loaders already replaced
  std::vector<std::string> earlier_bad_paths_;
};

}  // namespace sgml
