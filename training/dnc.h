// Divide & Conquer (Sanakoyeu, Tschernezki, Buechler, Ommer, CVPR 2019; issue 12) on our trainer: the schedule of
// its phases, the clustering of the training images and the matching of new clusters to the learners.
//
// Epochs are 1-based; --full-embedding-epoch E and --finetune-epoch F count as the authors' (from 0, switching at
// e >= E), so they switch after E and F epochs. With K = --learners (K = 1: the plain baseline, no clusters):
// - clustered phase (the first F epochs, or all when F is 0): at the start of epochs 1, 1 + R,
//   1 + 2R, ... (R = --recluster-every) the training images are clustered into K groups by k-means (100 Lloyd
//   iterations at most, k-means++ seeding from the run's seed and the epoch) on their L2-normalised pooled backbone
//   features (evaluation transform); the new clusters are matched to the previous ones by the Hungarian algorithm
//   on the L1 distance between membership vectors, so learner k keeps roughly the same images. Each step's batch
//   comes from one cluster (round-robin, data/samplers.h ClusterBatchSampler) and the metric loss sees only that
//   cluster's learner slice for the first E epochs (all of them when E is 0), then the whole embedding.
// - fine-tune phase (after F epochs): plain batch-wise sampling over all images, whole embedding.
// With --division hierarchical (the authors' TPAMI follow-up, their top-down hierarchy) the learners grow: 1 at the
// first clustering, then each re-clustering clusters into the current count (k-means, Hungarian matching as above)
// and, while that count is below K, divides every cluster in two by 2-means of its own images, children 2c and
// 2c + 1 of cluster c, so 1, 2, 4, ... up to K (a power of two). A new learner starts from its parent: half of its
// slice (exactly when K divides d), or a copy of its parent's mask (learned masks).
// --stop-reclustering (the follow-up's --stop-recluster): no re-clustering after the first clustering (flat) or the
// one that reaches K learners (hierarchical); from then on the backbone is not frozen either.
// Clustered epochs keep the length of plain batch-wise sampling (ceil(classes / N') steps; --batches-per-epoch
// plain, so epochs, schedules and comparisons mean the same with and without clusters), or take the authors' length
// from the clusters (max or min: data/samplers.h ClusterBatchSampler); the trainer counts epochs as they end. The
// clusters take turns across epochs either way.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "training/train_config.h"

namespace sgml {

struct DncPhase {
  bool clustered = false;       // batches come from clusters
  bool full_embedding = true;   // the loss sees the whole embedding (else the batch's cluster's learner slice)
  int clustering_epoch = 0;     // the epoch whose start computed the clusters this epoch uses (clustered only)
  // Clustered only: the learners (clusters) this epoch trains, and how many clusters the k-means at the start of
  // clustering_epoch made before dividing each in two (== learners when it did not divide).
  int learners = 0, clustered_into = 0;
  bool divides() const { return clustered && clustered_into < learners; }
  // --freeze-backbone-epochs: the backbone does not learn in this epoch (one of the first after a re-clustering).
  bool backbone_frozen = false;
};
DncPhase dnc_phase(const TrainConfig& c, int epoch);

// Notes on a --method dnc schedule whose phases the run never reaches: --full-embedding-epoch or --finetune-epoch
// at or beyond --epochs (configs/dnc-*.json set the authors' 80 and 190 of 200), or fine-tuning before the whole
// embedding's phase. None for a run of --steps (its epochs are not known before the clusters are) or one learner.
std::vector<std::string> dnc_schedule_notes(const TrainConfig& c);

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

// The hierarchy's division: each cluster c of `clusters` (N rows, in [0, k) or -1) split in two by 2-means of its
// rows' L2-normalised features (N, D), into clusters 2c and 2c + 1 (-1 stays -1). A split is accepted when each
// half holds at least two classes (`labels`, N) with two images or more; otherwise another seed is tried, up to
// max_trials, and the last split is kept (the authors' rule). A cluster of fewer than 2 rows stays whole, as 2c.
struct Division {
  std::vector<int> clusters;  // (N) in [0, 2k) or -1
  std::vector<int> trials;    // (k) the seeds each cluster took (0: not divided)
};
Division divide_clusters(const Tensor& features, const std::vector<int>& clusters, const std::vector<int>& labels,
                         int k, uint64_t seed, Device device = Device::cpu(), int max_trials = 30);

}  // namespace sgml
