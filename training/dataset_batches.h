// The trainer's batches from a dataset: a thin adapter of data/training_stream.h (batch plan or sampler, the
// decoded-image cache when prepared, the loader's worker threads, resume by step) to the trainer's BatchSource.
#pragma once
#include "data/dataset.h"
#include "data/training_stream.h"
#include "training/trainer.h"

namespace sgml {

class DatasetBatchSource : public BatchSource {
 public:
  DatasetBatchSource(const Dataset& dataset, const TrainConfig& config);

  TrainBatch batch(int64_t step) override;
  int64_t steps_per_epoch() const override { return stream_.steps_per_epoch(); }
  int num_attributes() const override { return num_attributes_; }
  int num_classes() const override { return num_classes_; }
  int bad_images_skipped() const override { return stream_.bad_images_skipped(); }
  const std::string& cache_note() const { return stream_.cache_note(); }
  bool uses_cache() const { return stream_.uses_cache(); }
  Tensor clustering_features(SgmlModel& model, std::vector<int>* rows) override;
  int num_images() const override { return int(dataset_.train.size()); }
  void set_clusters(const std::vector<int>& clusters, int k, EpochAnchor anchor) override {
    stream_.set_clusters(clusters, k, anchor);
  }
  int cluster_of(int64_t step) const override { return stream_.cluster_of(step); }
  std::vector<int> cluster_sizes() const override;
  std::vector<int> cluster_kept() const override;
  std::vector<int> image_labels() const override { return labels_of(dataset_.train); }
  // Fingerprints (FNV-1a) of the lists: each image's path below the dataset's folder, class and box, in list
  // order: a moved folder is the same data, another copy with other images, labels or boxes is not.
  DataDescription data_description() const override;
  void stop_using_cache() override { stream_.stop_using_cache(); }

 private:
  static TrainingStreamConfig stream_config(const TrainConfig& config);
  const Dataset& dataset_;
  TrainConfig config_;
  TrainingStream stream_;
  int num_attributes_, num_classes_;
};

}  // namespace sgml
