// Divide & Conquer (Sanakoyeu, Tschernezki, Buechler, Ommer, CVPR 2019; issue 12) on our trainer: the schedule of
// its phases, the clustering of the training images and the matching of new clusters to the learners.
//
// Epochs are 1-based. With K = --learners:
// - clustered phase (epochs before --finetune-epoch, or all when it is 0): at the start of epochs 1, 1 + R,
//   1 + 2R, ... (R = --recluster-every) the training images are clustered into K groups by k-means (100 Lloyd
//   iterations at most, k-means++ seeding from the run's seed and the epoch) on their L2-normalised pooled backbone
//   features (evaluation transform); the new clusters are matched to the previous ones by the Hungarian algorithm
//   on the L1 distance between membership vectors, so learner k keeps roughly the same images. Each step's batch
//   comes from one cluster (round-robin, data/samplers.h ClusterBatchSampler) and the metric loss sees only that
//   cluster's learner slice, until --full-embedding-epoch, from which it sees the whole embedding.
// - fine-tune phase (from --finetune-epoch): plain batch-wise sampling over all images, whole embedding.
// Clustered epochs keep the length of plain batch-wise sampling (ceil(classes / N') steps; --batches-per-epoch
// plain, so epochs, schedules and comparisons mean the same with and without clusters), or take the authors' length
// from the clusters (max or min: data/samplers.h ClusterBatchSampler); the trainer counts epochs as they end.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "training/train_config.h"

namespace sgml {

struct DncPhase {
  bool clustered = false;       // batches come from clusters
  bool full_embedding = true;   // the loss sees the whole embedding (else the batch's cluster's learner slice)
  int clustering_epoch = 0;     // the epoch whose start computed the clusters this epoch uses (clustered only)
};
DncPhase dnc_phase(const TrainConfig& c, int epoch);

// L1 distance between the membership vectors of cluster a of `previous` and cluster b of `fresh`: the images in
// exactly one of the two. Both assign each image to [0, k) or -1 (in neither).
struct ClusterMatch {
  std::vector<int> clusters;  // `fresh` relabelled: fresh cluster b becomes the previous cluster matched to it
  double cost = 0;            // the matched pairs' summed L1 distances (0: the same partition)
};
ClusterMatch match_clusters(const std::vector<int>& previous, const std::vector<int>& fresh, int k);

struct Clustering {
  std::vector<int> clusters;  // (N) cluster of each row
  double inertia = 0;
  int iterations = 0;
};
// k-means of the L2-normalised rows of features (N, D) into k clusters (retrieval/kmeans.h), seeded; its distance
// products run on `device` (the model's: a GPU run clusters on the GPU).
Clustering cluster_features(const Tensor& features, int k, uint64_t seed, Device device = Device::cpu());

}  // namespace sgml
