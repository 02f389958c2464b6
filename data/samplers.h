// Which training images make up each step's batch (the paper's Sec. IV-C sampling). A sampler sees only the dense
// labels of the training list and yields indices into it. The batch of step t is a pure function of (seed, t):
// batch(t) can be asked in any order (a resumed run asks from its step on).
//
//   BatchWiseSampler  N' classes x M' images per batch (paper: 41 x 4). Each epoch visits the classes in a fresh
//                     random order, N' per batch, so every class is in a batch once per epoch; the last batch of an
//                     epoch is completed with the first classes of that order, so every batch has N' distinct
//                     classes. Of a class with at least M' images, M' distinct ones at random. A class with fewer
//                     (ClassBalance::Fixed): each of its images once and the rest drawn with replacement.
//                     ClassBalance::Adaptive (the D&C authors' "adaptbalanced" sampler) keeps N' x M' images per
//                     batch without repeating one: with fewer than N' classes, every class is in every batch with
//                     N'M' / classes images (the remainder one more each, for classes drawn per batch); a class
//                     short of images gives them all, and the free places go to images drawn from the others not
//                     yet in the batch (with replacement only when the sampler holds fewer than N'M' images).
//   ImageWiseSampler  T triplets per batch (paper: 60), laid out a, p, n, a, p, n, ...: each training image is an
//                     anchor once per epoch (a fresh random order per epoch; the last batch is completed with the
//                     first anchors of that order), its positive a random other image of its class (itself when it
//                     is alone in its class), its negative a random image of another class.
//   ClusterBatchSampler Divide & Conquer's cluster-wise batches: the images are split into K clusters; each
//                     cluster has its own BatchWiseSampler over its images, from the classes with at least two
//                     images in that cluster (a class split across clusters counts in each; a cluster's single
//                     images are dropped for the round). A cluster with fewer than N' classes gives batches of its
//                     class count x M' (ClassBalance::Fixed), or of N' x M' images (Adaptive).
//                     Steps visit the usable clusters round-robin. An epoch has the plain batch-wise length
//                     (BatchesPerEpoch::Plain: epochs mean the same with and without clusters), or, as the D&C
//                     authors' merged loaders, as many rounds as the largest (Max) or smallest (Min) cluster has
//                     batches in its own epoch, each round one batch of every usable cluster. A cluster whose own
//                     epoch ends within an epoch goes on into its next one.
//   SequentialBatches the images 0..n-1 in order, `batch_size` at a time, the last batch shorter (evaluation).
// Steps per epoch: ceil(classes / N') batch-wise, ceil(images / T) image-wise.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sgml {

// How a batch-wise batch deals with classes short of images, and a set short of classes (BatchWiseSampler above).
enum class ClassBalance { Fixed, Adaptive };
ClassBalance parse_class_balance(const std::string& name);  // "fixed", "adaptive"

class BatchWiseSampler {
 public:
  BatchWiseSampler(const std::vector<int>& labels, int classes_per_batch, int images_per_class, uint64_t seed,
                   ClassBalance balance = ClassBalance::Fixed);

  // batch_size() indices, class by class (Adaptive: the images that fill free places come last).
  std::vector<int> batch(int64_t step) const;
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int batch_size() const { return batch_size_; }

 private:
  std::vector<std::vector<int>> members_;  // label -> indices of its images (labels with none are skipped)
  int num_images_;
  int classes_per_batch_, images_per_class_;  // Adaptive with fewer classes than asked: all, and more images each
  int larger_classes_ = 0;                    // Adaptive: classes per batch that give one image more
  int batch_size_;
  ClassBalance balance_;
  uint64_t seed_;
  int64_t steps_per_epoch_ = 1;
};

class ImageWiseSampler {
 public:
  ImageWiseSampler(const std::vector<int>& labels, int triplets_per_batch, uint64_t seed);

  std::vector<int> batch(int64_t step) const;  // 3 * triplets_per_batch indices: a, p, n, a, p, n, ...
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int batch_size() const { return 3 * triplets_per_batch_; }

 private:
  std::vector<int> labels_;
  std::vector<std::vector<int>> members_;  // label -> indices
  int triplets_per_batch_;
  uint64_t seed_;
  int64_t steps_per_epoch_ = 1;
};

// The classes with at least two images among `labels` (one label per image): those that give positive pairs.
// Divide & Conquer samples a cluster only when it has two such classes, and splits a cluster only into halves that
// each have two.
int classes_with_pairs(const std::vector<int>& labels);

// The length of Divide & Conquer's clustered epochs (ClusterBatchSampler above).
enum class BatchesPerEpoch { Plain, Max, Min };
BatchesPerEpoch parse_batches_per_epoch(const std::string& name);  // "plain", "max", "min"

// Where epochs of a fixed length are counted from: `step` (0-based) is the first step of epoch `epoch` (0-based).
// Epochs before it may have had other lengths (other clusters).
struct EpochAnchor {
  int64_t step = 0, epoch = 0;
};

class ClusterBatchSampler {
 public:
  // clusters: (images) cluster of each training image in [0, K), or -1 (left out). plain_steps_per_epoch >= 1: the
  // plain batch-wise epoch. Epochs of this sampler's length follow one another from `anchor` on; steps before it
  // are refused.
  ClusterBatchSampler(const std::vector<int>& labels, const std::vector<int>& clusters, int num_clusters,
                      int classes_per_batch, int images_per_class, uint64_t seed, int64_t plain_steps_per_epoch,
                      BatchesPerEpoch length = BatchesPerEpoch::Plain, EpochAnchor anchor = {},
                      ClassBalance balance = ClassBalance::Fixed);

  std::vector<int> batch(int64_t step) const;  // indices into the training list
  int cluster_of(int64_t step) const;          // the cluster step's batch comes from
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Per cluster: images it holds, and images kept (in classes with >= 2 of its images, in a cluster with two such
  // classes: 0 for a cluster that is never sampled).
  const std::vector<int>& cluster_sizes() const { return sizes_; }
  const std::vector<int>& kept_images() const { return kept_; }

 private:
  struct Part {
    int cluster;
    std::vector<int> images;  // training-list index of each of the sampler's images
    BatchWiseSampler sampler;
  };
  // The (0-based) epoch of `step` and its position in that epoch.
  std::pair<int64_t, int64_t> epoch_of(int64_t step) const;
  // The clusters' turn at `step`: epoch x steps per epoch + position (cluster turn % parts, its turn / parts).
  int64_t turn_of(int64_t step) const;
  std::vector<Part> parts_;  // the usable clusters, in cluster order
  std::vector<int> sizes_, kept_;
  int64_t steps_per_epoch_;
  EpochAnchor anchor_;
};

class SequentialBatches {
 public:
  SequentialBatches(int num_images, int batch_size);
  std::vector<int> batch(int64_t step) const;  // empty past the end
  int64_t num_batches() const;

 private:
  int num_images_, batch_size_;
};

}  // namespace sgml
