// Divide & Conquer's pieces (training/dnc.h, data/samplers.h ClusterBatchSampler, layers/embedding_slices.h):
// the matching of new clusters to learners against a brute force over every relabelling, the phase schedule, the
// cluster-wise batches, the learner slices, the learned masks of the authors' follow-up against PyTorch, and the
// authors' linear head (models/sgml_model.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "data/samplers.h"
#include "engine/check.h"
#include "engine/safetensors.h"
#include "layers/embedding_slices.h"
#include "losses/mask_orthogonality.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"
#include "training/dnc.h"

using namespace sgml;

namespace {

// L1 distance between memberships, summed over clusters, after relabelling fresh cluster b as perm[b].
double relabelled_cost(const std::vector<int>& previous, const std::vector<int>& fresh, const std::vector<int>& perm,
                       int k) {
  double cost = 0;
  for (int a = 0; a < k; ++a)
    for (size_t i = 0; i < fresh.size(); ++i) {
      const bool in_old = previous[i] == a, in_new = fresh[i] >= 0 && perm[size_t(fresh[i])] == a;
      cost += in_old != in_new;
    }
  return cost;
}

TEST(DncMatching, OptimalOverEveryRelabellingAndRecoversAPermutation) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    const int k = 2 + trial % 4, n = 30 + trial;
    std::vector<int> previous(static_cast<size_t>(n)), fresh(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      previous[size_t(i)] = int(rng() % unsigned(k + 1)) - 1;  // -1: an image left out
      fresh[size_t(i)] = trial % 2 ? int(rng() % unsigned(k + 1)) - 1 : previous[size_t(i)];
    }
    // Half the trials: fresh = a relabelling of previous with a few images moved.
    std::vector<int> shuffle_of(static_cast<size_t>(k));
    std::iota(shuffle_of.begin(), shuffle_of.end(), 0);
    std::shuffle(shuffle_of.begin(), shuffle_of.end(), rng);
    if (trial % 2 == 0)
      for (int i = 0; i < n; ++i) {
        if (i % 7 == 3) fresh[size_t(i)] = int(rng() % unsigned(k));
        if (fresh[size_t(i)] >= 0) fresh[size_t(i)] = shuffle_of[size_t(fresh[size_t(i)])];
      }
    const ClusterMatch m = match_clusters(previous, fresh, k);
    std::vector<int> perm(static_cast<size_t>(k));
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do best = std::min(best, relabelled_cost(previous, fresh, perm, k));
    while (std::next_permutation(perm.begin(), perm.end()));
    EXPECT_EQ(m.cost, best) << "trial " << trial;
    // The relabelled assignment has that cost against the previous one, and is a relabelling of fresh.
    std::vector<int> identity(static_cast<size_t>(k));
    std::iota(identity.begin(), identity.end(), 0);
    EXPECT_EQ(relabelled_cost(previous, m.clusters, identity, k), best) << "trial " << trial;
    std::map<int, int> seen;
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(m.clusters[size_t(i)] < 0, fresh[size_t(i)] < 0);
      if (fresh[size_t(i)] < 0) continue;
      auto [it, added] = seen.emplace(fresh[size_t(i)], m.clusters[size_t(i)]);
      EXPECT_EQ(it->second, m.clusters[size_t(i)]) << "one fresh cluster, one new label";
    }
  }
  // An exact relabelling is undone at cost 0.
  const std::vector<int> previous{0, 0, 1, 2, 2, 2, 1, -1}, fresh{2, 2, 0, 1, 1, 1, 0, -1};
  const ClusterMatch m = match_clusters(previous, fresh, 3);
  EXPECT_EQ(m.cost, 0.0);
  EXPECT_EQ(m.clusters, previous);
  EXPECT_THROW(match_clusters({0, 1}, {0}, 2), Error);
  EXPECT_THROW(match_clusters({0, 3}, {0, 1}, 2), Error);
}

// The authors count epochs from 0 and switch at e >= E: full embedding 4 and fine-tuning 6 mean 4 epochs on slices,
// 2 on the whole embedding with clusters, then none; their re-clusterings at e = 0, 2, 4 are our epochs 1, 3, 5, so
// the last clustering lasts its two epochs, as each of theirs.
TEST(DncPhases, ClusteredThenFullEmbeddingThenFineTune) {
  TrainConfig c;
  c.method = "dnc";
  c.learners = 4;
  c.recluster_every = 2;
  c.full_embedding_epoch = 4;
  c.finetune_epoch = 6;
  //                          epoch:  1  2  3  4  5  6  7  8
  const int want_clustering[] = {0, 1, 1, 3, 3, 5, 5, 0, 0};
  for (int epoch = 1; epoch <= 8; ++epoch) {
    const DncPhase p = dnc_phase(c, epoch);
    EXPECT_EQ(p.clustered, epoch <= 6) << epoch;
    EXPECT_EQ(p.full_embedding, epoch > 4) << epoch;
    EXPECT_EQ(p.clustering_epoch, want_clustering[epoch]) << epoch;
  }
  c.full_embedding_epoch = c.finetune_epoch = 0;  // never
  EXPECT_TRUE(dnc_phase(c, 1000).clustered);
  EXPECT_FALSE(dnc_phase(c, 1000).full_embedding);
  c.learners = 1;  // the plain margin-loss baseline: no clusters, whole embedding
  EXPECT_FALSE(dnc_phase(c, 1).clustered);
  EXPECT_TRUE(dnc_phase(c, 1).full_embedding);
  c.learners = 4;
  c.method = "sgml";
  EXPECT_FALSE(dnc_phase(c, 1).clustered);
}

// A phase that no epoch of the run reaches is noted, and only then: checked against dnc_phase over the run's epochs
// for every schedule of up to 6 epochs (the shipped configs' 80 and 190 in a run of 20 epochs among them, scaled).
TEST(DncPhases, PhasesThatTheRunNeverReachesAreNoted) {
  TrainConfig c;
  c.method = "dnc";
  c.learners = 4;
  c.recluster_every = 2;
  for (c.epochs = 1; c.epochs <= 6; ++c.epochs)
    for (c.full_embedding_epoch = 0; c.full_embedding_epoch <= 8; ++c.full_embedding_epoch)
      for (c.finetune_epoch = 0; c.finetune_epoch <= 8; ++c.finetune_epoch) {
        bool whole_on_clusters = false, finetunes = false;
        for (int epoch = 1; epoch <= c.epochs; ++epoch) {
          const DncPhase p = dnc_phase(c, epoch);
          whole_on_clusters |= p.clustered && p.full_embedding;
          finetunes |= !p.clustered;
        }
        std::string notes;
        for (const std::string& note : dnc_schedule_notes(c)) notes += note + "\n";
        SCOPED_TRACE(str_cat("epochs ", c.epochs, ", full ", c.full_embedding_epoch, ", finetune ", c.finetune_epoch,
                             ":\n", notes));
        // --full-embedding-epoch 0 means never: a choice, not a phase missed.
        const bool wants_whole = c.full_embedding_epoch > 0, wants_finetune = c.finetune_epoch > 0;
        EXPECT_EQ(notes.find("trains the whole embedding on clusters' batches") != std::string::npos,
                  wants_whole && !whole_on_clusters);
        EXPECT_EQ(notes.find("never fine-tunes") != std::string::npos, wants_finetune && !finetunes);
      }
  c.epochs = 20;
  c.full_embedding_epoch = 80;
  c.finetune_epoch = 190;
  EXPECT_EQ(dnc_schedule_notes(c).size(), 2u);
  c.steps = 100;  // epochs not known in advance
  EXPECT_TRUE(dnc_schedule_notes(c).empty());
  c.steps = 0;
  c.learners = 1;  // no clusters: the phases do not apply
  EXPECT_TRUE(dnc_schedule_notes(c).empty());
}

// The follow-up's top-down hierarchy: 1 learner at the first clustering, twice as many at each re-clustering (the
// k-means into the previous count, then each cluster divided), up to K; the backbone frozen in the first epochs
// after each re-clustering.
TEST(DncPhases, HierarchicalDivisionDoublesTheLearnersUpToK) {
  TrainConfig c;
  c.method = "dnc";
  c.learners = 8;
  c.recluster_every = 2;
  c.freeze_backbone_epochs = 1;
  c.finetune_epoch = 12;
  EXPECT_EQ(dnc_phase(c, 3).learners, 8) << "flat: all K from the start";
  EXPECT_FALSE(dnc_phase(c, 3).divides());
  c.division = "hierarchical";
  //                       epoch:  1  2  3  4  5  6  7  8  9 10 11
  const int want_learners[] = {0, 1, 1, 2, 2, 4, 4, 8, 8, 8, 8, 8};
  const int want_into[] = {0, 1, 1, 1, 1, 2, 2, 4, 4, 8, 8, 8};
  for (int epoch = 1; epoch <= 11; ++epoch) {
    const DncPhase p = dnc_phase(c, epoch);
    EXPECT_EQ(p.learners, want_learners[epoch]) << epoch;
    EXPECT_EQ(p.clustered_into, want_into[epoch]) << epoch;
    EXPECT_EQ(p.divides(), epoch >= 3 && epoch <= 8) << epoch << ": its clustering divided";
    EXPECT_EQ(p.backbone_frozen, epoch % 2 == 1) << epoch;
  }
  EXPECT_EQ(dnc_phase(c, 1000000).learners, 0) << "fine-tuning: no clusters";
  EXPECT_FALSE(dnc_phase(c, 12).backbone_frozen);
  c.finetune_epoch = 0;
  EXPECT_EQ(dnc_phase(c, 1000001).learners, 8);
}

// --stop-reclustering (the follow-up's --stop-recluster), whose check runs at the start of each epoch: hierarchical,
// the clustering that reaches K (epoch 7 for K = 8, re-clustering every 2) is the last, its own epoch is frozen and
// no later one; flat, the first clustering is the only one, its first N epochs frozen.
TEST(DncPhases, StopReclusteringKeepsTheLastClusteringAndUnfreezes) {
  TrainConfig c;
  c.method = "dnc";
  c.learners = 8;
  c.recluster_every = 3;
  c.freeze_backbone_epochs = 2;
  c.division = "hierarchical";
  c.stop_reclustering = true;
  //                          epoch:  1  2  3  4  5  6  7  8  9 10 11 12 13 14
  const int want_clustering[] = {0, 1, 1, 1, 4, 4, 4, 7, 7, 7, 10, 10, 10, 10, 10};
  const int want_learners[] = {0, 1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 8, 8};
  const bool want_frozen[] = {false, true, true, false, true, true, false, true, true, false,
                              true, false, false, false, false};
  for (int epoch = 1; epoch <= 14; ++epoch) {
    const DncPhase p = dnc_phase(c, epoch);
    EXPECT_EQ(p.clustering_epoch, want_clustering[epoch]) << epoch;
    EXPECT_EQ(p.learners, want_learners[epoch]) << epoch;
    EXPECT_EQ(p.clustered_into, epoch >= 10 ? 4 : std::max(1, want_learners[epoch] / 2)) << epoch;
    EXPECT_EQ(p.backbone_frozen, want_frozen[epoch]) << epoch;
  }
  c.division = "flat";
  for (int epoch = 1; epoch <= 8; ++epoch) {
    const DncPhase p = dnc_phase(c, epoch);
    EXPECT_EQ(p.clustering_epoch, 1) << epoch;
    EXPECT_EQ(p.learners, 8);
    EXPECT_EQ(p.backbone_frozen, epoch <= 2) << epoch;
  }
  c.stop_reclustering = false;
  EXPECT_EQ(dnc_phase(c, 8).clustering_epoch, 7);
  EXPECT_TRUE(dnc_phase(c, 8).backbone_frozen);
}

// Each cluster split in two by 2-means of its own rows, into 2c and 2c + 1 (the parent is the child // 2, as the
// authors check); a split that leaves a half without two classes of two images is tried again with other seeds, up
// to the limit, and kept then; a cluster of one row stays whole.
TEST(DncDivision, SplitsEachClusterInTwoAndRetriesSplitsWithoutPairs) {
  // Cluster 0: two far blobs (rows 0-3 and 4-7), each with two classes of two images; cluster 1: rows 8-13 of one
  // class only (no split can satisfy the rule); cluster 2: row 14 alone; row 15 in no cluster.
  const int n = 16, d = 4;
  Tensor x = Tensor::zeros({n, d});
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  for (int r = 0; r < n; ++r) {
    const int hot = r < 4 ? 0 : r < 8 ? 1 : 2 + r % 2;  // the blob's axis
    for (int j = 0; j < d; ++j) x.data()[r * d + j] = noise(rng) + (j == hot ? 1.0f : 0.0f);
  }
  const std::vector<int> clusters{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, -1};
  const std::vector<int> labels{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 5, 6};
  const Division div = divide_clusters(x, clusters, labels, 3, 9, Device::cpu(), 5);
  ASSERT_EQ(div.clusters.size(), size_t(n));
  for (int r = 0; r < n; ++r) {
    if (clusters[r] < 0) {
      EXPECT_EQ(div.clusters[r], -1);
      continue;
    }
    EXPECT_EQ(div.clusters[r] / 2, clusters[r]) << "row " << r << ": a child of its cluster";
  }
  EXPECT_EQ(div.trials, (std::vector<int>{1, 5, 0}));
  for (int r = 1; r < 4; ++r) EXPECT_EQ(div.clusters[r], div.clusters[0]) << "the first blob together";
  for (int r = 5; r < 8; ++r) EXPECT_EQ(div.clusters[r], div.clusters[4]) << "the second blob together";
  EXPECT_NE(div.clusters[0], div.clusters[4]);
  std::set<int> halves(div.clusters.begin() + 8, div.clusters.begin() + 14);
  EXPECT_EQ(halves, (std::set<int>{2, 3})) << "the last trial's split kept";
  EXPECT_EQ(div.clusters[14], 4) << "one row: whole, as 2c";
  EXPECT_THROW(divide_clusters(x, clusters, {0, 1}, 3, 9), Error);
}

TEST(ClusterBatchSampler, BatchesComeFromOneClusterRoundRobin) {
  // 12 classes of 5 images; cluster = class % 3, except that class 0 has one image in cluster 1 (dropped there) and
  // cluster 3 holds only class 11's images (one class: no negatives, never sampled).
  std::vector<int> labels, clusters;
  for (int c = 0; c < 12; ++c)
    for (int m = 0; m < 5; ++m) {
      labels.push_back(c);
      clusters.push_back(c == 11 ? 3 : c == 0 && m == 4 ? 1 : c % 3);
    }
  clusters[3] = -1;  // an image left out
  const ClusterBatchSampler s(labels, clusters, 4, 3, 2, 9, /*steps_per_epoch=*/7);
  // Cluster 0: classes 0, 3, 6, 9 less class 0's image 4 (in cluster 1) and image 3 (left out); cluster 1: classes 1,
  // 4, 7, 10 and that image, which is alone of its class there; cluster 2: classes 2, 5, 8; cluster 3: class 11.
  EXPECT_EQ(s.cluster_sizes(), (std::vector<int>{4 * 5 - 2, 4 * 5 + 1, 3 * 5, 5}));
  EXPECT_EQ(s.kept_images(), (std::vector<int>{4 * 5 - 2, 4 * 5, 3 * 5, 0})) << "cluster 3 is never sampled";
  for (int64_t step = 0; step < 30; ++step) {
    const std::vector<int> b = s.batch(step);
    const int cluster = s.cluster_of(step);
    // Epochs of 7 steps: restarting the turns at each epoch would give cluster 0 three steps of every 7.
    EXPECT_EQ(cluster, int(step % 3)) << "clusters 0, 1, 2 in turn, going on across epochs";
    EXPECT_EQ(b, s.batch(step)) << "a pure function of the step";
    std::set<int> classes;
    for (int i : b) {
      EXPECT_EQ(clusters[size_t(i)], cluster) << "step " << step;
      EXPECT_FALSE(i == 3 || i == 4) << "left out, or the single image of class 0 in cluster 1";
      classes.insert(labels[size_t(i)]);
    }
    EXPECT_EQ(b.size(), 6u);
    EXPECT_EQ(classes.size(), 3u);
  }
  EXPECT_THROW(ClusterBatchSampler(labels, std::vector<int>(labels.size(), -1), 2, 3, 2, 0, 5), Error);
  // Every cluster a single class: the error says what is missing and what to change.
  const std::string why = test::error_of([&] { ClusterBatchSampler(labels, labels, 12, 3, 2, 0, 5); });
  EXPECT_NE(why.find("none of the 12 clusters of the " + std::to_string(labels.size()) +
                     " training images has two classes with two images each"), std::string::npos) << why;
  EXPECT_NE(why.find("fewer --learners"), std::string::npos) << why;
}

TEST(ClusterBatchSampler, EpochsOfTheLargestOrSmallestClusterAndAnchoredEpochs) {
  // Cluster 0 holds 7 classes, cluster 1 three, cluster 2 two; 4 images each; batches of 3 classes x 2 images. The
  // authors' loader counts a cluster's batches as its images over the batch size, rounded down: 28 / 6 = 4, 12 / 6 =
  // 2 and 8 / 6 = 1.
  std::vector<int> labels, clusters;
  const int cluster_of_class[12] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
  for (int c = 0; c < 12; ++c)
    for (int m = 0; m < 4; ++m) {
      labels.push_back(c);
      clusters.push_back(cluster_of_class[c]);
    }
  const int64_t plain = 4;  // ceil(12 / 3)
  const ClusterBatchSampler max(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Max);
  const ClusterBatchSampler min(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Min);
  const ClusterBatchSampler same(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Plain);
  EXPECT_EQ(max.steps_per_epoch(), 4 * 3) << "4 rounds (cluster 0's batches) of one batch per cluster";
  EXPECT_EQ(min.steps_per_epoch(), 1 * 3);
  EXPECT_EQ(same.steps_per_epoch(), plain);
  // Cluster 0's own sampler visits its 7 classes in ceil(7 / 3) = 3 batches: its first 3 turns cover them all.
  std::set<int> classes_of_cluster0;
  for (int64_t step = 0; step < 3 * 12; ++step) {
    EXPECT_EQ(max.cluster_of(step), int(step % 3)) << "round-robin";
    for (int i : max.batch(step)) {
      EXPECT_EQ(clusters[size_t(i)], max.cluster_of(step));
      if (max.cluster_of(step) == 0 && step < 9) classes_of_cluster0.insert(labels[size_t(i)]);
    }
  }
  EXPECT_EQ(classes_of_cluster0.size(), 7u) << "the largest cluster's every class";
  // The turns go on across plain epochs (4 steps, 3 clusters): over 12 steps each cluster has 4.
  int turns[3] = {0, 0, 0};
  for (int64_t step = 0; step < 12; ++step) ++turns[same.cluster_of(step)];
  EXPECT_EQ(std::vector<int>(turns, turns + 3), (std::vector<int>{4, 4, 4}));
  // An anchor only moves where the epochs are counted from: epoch 4 starting at step 50 gives the batches that
  // epoch 4 starting at step 4 x 12 does; the same clusters anchored at any epoch's start give the same batches (a
  // resumed run anchors at its first epoch), also where the plain epoch's 4 steps are no multiple of the 3 clusters.
  const ClusterBatchSampler at50(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Max, {50, 4});
  const ClusterBatchSampler at48(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Max, {48, 4});
  const ClusterBatchSampler plain_at4(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Plain, {4, 1});
  for (int64_t t = 0; t < 20; ++t) {
    EXPECT_EQ(at50.batch(50 + t), at48.batch(48 + t)) << t;
    EXPECT_EQ(at50.cluster_of(50 + t), at48.cluster_of(48 + t)) << t;
    EXPECT_EQ(at48.batch(48 + t), max.batch(48 + t)) << t;
    EXPECT_EQ(plain_at4.batch(4 + t), same.batch(4 + t)) << t;
    EXPECT_EQ(plain_at4.cluster_of(4 + t), same.cluster_of(4 + t)) << t;
  }
  EXPECT_NE(test::error_of([&] { at50.batch(49); }).find("comes before these clusters' first step 50"),
            std::string::npos);

  // Cluster 2's two classes give batches of 2 x 2 images (fixed), or keep 3 x 2 = 6 as 2 classes x 3 images
  // (adaptive, the authors' sampler); the other clusters have classes enough, so their batches keep the size both
  // ways. The epochs' lengths do not change.
  const ClusterBatchSampler adaptive(labels, clusters, 3, 3, 2, 5, plain, BatchesPerEpoch::Max, {},
                                     ClassBalance::Adaptive);
  EXPECT_EQ(adaptive.steps_per_epoch(), max.steps_per_epoch());
  for (int64_t step = 0; step < 24; ++step) {
    const std::vector<int> b = adaptive.batch(step);
    EXPECT_EQ(b.size(), 6u) << "step " << step;
    EXPECT_EQ(std::set<int>(b.begin(), b.end()).size(), b.size()) << "no image twice";
    for (int i : b) EXPECT_EQ(clusters[size_t(i)], adaptive.cluster_of(step));
    EXPECT_EQ(max.batch(step).size(), max.cluster_of(step) == 2 ? 4u : 6u) << "fixed";
  }
}

TEST(LearnerSlices, ColumnsAndNormalisedConcatenation) {
  EXPECT_EQ(learner_columns(0, 4, 128), (std::pair<int, int>{0, 32}));
  EXPECT_EQ(learner_columns(3, 4, 128), (std::pair<int, int>{96, 128}));
  EXPECT_EQ(learner_columns(2, 3, 16), (std::pair<int, int>{12, 16}));
  EXPECT_NE(test::error_of([] { check_learner_slices(4, 5); }).find("--embedding-dim 5"), std::string::npos);
  EXPECT_THROW(learner_columns(3, 3, 16), Error);
  const Tensor x = test::random_tensor({5, 10}, 3);
  const Tensor full = concatenated_learner_embedding(Variable(x), 3, 1.0f).value();  // slices 4, 4, 2
  for (int r = 0; r < 5; ++r) {
    for (auto [b, e] : {std::pair<int, int>{0, 4}, {4, 8}, {8, 10}}) {
      double norm = 0, raw = 0;
      for (int c = b; c < e; ++c) {
        norm += double(full.data()[r * 10 + c]) * full.data()[r * 10 + c];
        raw += double(x.data()[r * 10 + c]) * x.data()[r * 10 + c];
      }
      EXPECT_NEAR(norm, 1.0, 1e-6) << "each slice a unit vector";
      for (int c = b; c < e; ++c)
        EXPECT_NEAR(full.data()[r * 10 + c], x.data()[r * 10 + c] / std::sqrt(raw), 1e-6) << "the direction kept";
    }
  }
}

TEST(LinearHead, OneLayerOnThePooledFeatureWithXavierRowsPerLearner) {
  SgmlModelConfig config;
  config.arch = "resnet18";
  config.embedding_dim = 96;
  config.learners = 3;  // rows [0, 32), [32, 64), [64, 96)
  config.head = HeadKind::Linear;
  config.seed = 3;
  SgmlModel model(config);
  const TensorMap state = model.store().state_dict();
  EXPECT_FALSE(state.count("head.fc.weight")) << "no fc layer";
  EXPECT_FALSE(state.count("head.attr.weight")) << "no attribute branch";
  ASSERT_TRUE(state.count("head.emb.weight"));
  const Tensor& w = state.at("head.emb.weight");
  ASSERT_EQ(w.shape(), (std::vector<int64_t>{96, 512})) << "(d, F): on the pooled ResNet-18 feature";
  // Xavier normal (Glorot and Bengio 2010) with gain 1 on each learner's rows alone: std sqrt(2 / (512 + 32)). With
  // 16,384 draws per learner the sample std is within 2% of it (its relative standard error is 0.55%).
  const double expected = std::sqrt(2.0 / (512 + 32));
  for (int k = 0; k < 3; ++k) {
    double sum = 0, sq = 0;
    const int64_t n = 32 * 512;
    for (int64_t i = k * n; i < (k + 1) * n; ++i) {
      sum += w.data()[i];
      sq += double(w.data()[i]) * w.data()[i];
    }
    const double mean = sum / n, std = std::sqrt(sq / n - mean * mean);
    EXPECT_NEAR(std / expected, 1.0, 0.02) << "learner " << k;
    EXPECT_NEAR(mean, 0.0, 4 * expected / std::sqrt(double(n))) << "learner " << k;
    // Normal, not uniform with the same std (Xavier uniform, whose values stop at sqrt(3) std): 4.55% of normal
    // draws lie beyond 2 std, within 4 standard errors (0.16%) here.
    int64_t beyond = 0;
    for (int64_t i = k * n; i < (k + 1) * n; ++i) beyond += std::fabs(w.data()[i]) > 2 * expected;
    EXPECT_NEAR(double(beyond) / n, 0.0455, 4 * std::sqrt(0.0455 * 0.9545 / n)) << "learner " << k;
  }

  const Tensor images = test::random_tensor({2, 3, 32, 32}, 5);
  const SgmlOutputs out = model.forward(Variable(images), /*training=*/true);
  EXPECT_FALSE(out.fc.defined());
  EXPECT_FALSE(out.attr_logits.defined());
  EXPECT_EQ(out.emb.value().shape(), (std::vector<int64_t>{2, 96}));
  // emb = conv W^T + b, computed here from the pooled feature the model returns.
  const Tensor conv = out.conv.value(), bias = state.at("head.emb.bias");
  for (int r = 0; r < 2; ++r)
    for (int j = 0; j < 96; j += 17) {
      double e = bias.data()[j];
      for (int c = 0; c < 512; ++c) e += double(conv.data()[r * 512 + c]) * w.data()[j * 512 + c];
      EXPECT_NEAR(out.emb.value().data()[r * 96 + j], e, 1e-4 * (1 + std::abs(e)));
    }
  EXPECT_NE(test::error_of([&] { model.extract(images, FeatureKind::Fc); }).find("no fc feature"), std::string::npos);

  // A file with the other kind of head is refused naming it.
  const std::string dir = test::scratch_dir("heads");
  SgmlModelConfig sgml_config = config;
  sgml_config.head = HeadKind::Sgml;
  SgmlModel sgml_head(sgml_config);
  sgml_head.save_weights(dir + "/sgml_head.safetensors");
  model.save_weights(dir + "/linear_head.safetensors");
  EXPECT_NE(test::error_of([&] { model.load_weights(dir + "/sgml_head.safetensors", true); }).find("holds SGML's head"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { sgml_head.load_weights(dir + "/linear_head.safetensors", true); })
                .find("holds Divide & Conquer's linear head"),
            std::string::npos);
}

// --embedding-init torch (the follow-up's default): the whole embedding layer as PyTorch's nn.Linear, weight and bias
// uniform in +-1/sqrt(F), so variance bound^2 / 3, not the Xavier rows of the CVPR code.
TEST(LinearHead, TorchDefaultInitialisation) {
  SgmlModelConfig config;
  config.arch = "resnet18";
  config.embedding_dim = 96;
  config.learners = 3;
  config.head = HeadKind::Linear;
  config.embedding_init = EmbeddingInit::TorchDefault;
  config.seed = 3;
  SgmlModel model(config);
  const TensorMap state = model.store().state_dict();
  const double bound = 1.0 / std::sqrt(512.0);
  for (const char* name : {"head.emb.weight", "head.emb.bias"}) {
    const std::vector<float> v = state.at(name).to_vector();
    double sum = 0, sq = 0, largest = 0;
    for (float x : v) {
      sum += x;
      sq += double(x) * x;
      largest = std::max(largest, double(std::fabs(x)));
    }
    EXPECT_LE(largest, bound) << name;
    if (v.size() < 1000) continue;  // the bias: 96 values, only bounded
    // 49,152 draws: the sample variance is within 2% of bound^2 / 3 (its relative standard error is 0.4%).
    const double n = double(v.size()), mean = sum / n, var = sq / n - mean * mean;
    EXPECT_NEAR(var / (bound * bound / 3), 1.0, 0.02) << name;
    EXPECT_GT(largest, 0.99 * bound) << "uniform up to the bound";
  }
  EXPECT_EQ(parse_embedding_init("torch"), EmbeddingInit::TorchDefault);
  EXPECT_NE(test::error_of([] { parse_embedding_init("he"); }).find("expected xavier or torch"), std::string::npos);
}

// --mask-init normal (the follow-up's --masking-init normal): one draw of N(0.9, 0.7) per dimension, the same for
// every learner, as the authors' first mask duplicated.
TEST(LearnerMasks, NormalInitIsOneDrawSharedByEveryLearner) {
  SgmlModelConfig config;
  config.arch = "resnet18";
  config.embedding_dim = 2048;
  config.head = HeadKind::Linear;
  config.learner_masks = 4;
  config.mask_init = MaskInit::Normal;
  config.seed = 5;
  const std::vector<float> m = SgmlModel(config).learner_masks().value().to_vector();
  ASSERT_EQ(m.size(), 4u * 2048);
  for (int k = 1; k < 4; ++k)
    EXPECT_EQ(std::vector<float>(m.begin() + k * 2048, m.begin() + (k + 1) * 2048),
              std::vector<float>(m.begin(), m.begin() + 2048)) << "learner " << k;
  double sum = 0, sq = 0;
  for (int j = 0; j < 2048; ++j) {
    sum += m[size_t(j)];
    sq += double(m[size_t(j)]) * m[size_t(j)];
  }
  // 2048 draws: mean within 4 standard errors (0.7 / sqrt(2048)), std within 7% (relative standard error 1.6%).
  const double mean = sum / 2048, std = std::sqrt(sq / 2048 - mean * mean);
  EXPECT_NEAR(mean, 0.9, 4 * 0.7 / std::sqrt(2048.0));
  EXPECT_NEAR(std / 0.7, 1.0, 0.07);
  // Normal, not uniform: 4.55% of the draws beyond 2 std of the mean, within 4 standard errors (0.46%).
  int beyond = 0;
  for (int j = 0; j < 2048; ++j) beyond += std::fabs(m[size_t(j)] - 0.9) > 2 * 0.7;
  EXPECT_NEAR(beyond / 2048.0, 0.0455, 4 * std::sqrt(0.0455 * 0.9545 / 2048));
  config.mask_init = MaskInit::Ones;
  EXPECT_EQ(SgmlModel(config).learner_masks().value().to_vector(), std::vector<float>(4 * 2048, 1.0f));
  EXPECT_NE(test::error_of([] { parse_mask_init("zeros"); }).find("expected ones or normal"), std::string::npos);
}

// The learned masks of the authors' TPAMI follow-up against tests/reference/learner_masks_ref.py (torch autograd in
// float64, their formulas): learner k's masked, normalised embedding with the gradients of sum(en * seed) into the
// embedding and the masks (row k only), and the masks' orthogonality term with its gradient. Masks with negative
// entries (cut by the ReLU), one wholly negative mask (cosine 0 with every other), K = 1 (no term), and the
// authors' sizes (batch 80, d 128, K 8).
TEST(LearnerMasksVsTorch, MaskedEmbeddingAndOrthogonalityTerm) {
  SGML_SKIP_WITHOUT_TORCH();
  struct MaskCase {
    std::string name;
    int n, d, k, learner;
    float lambda;
    bool negative_row;
  };
  const std::vector<MaskCase> cases{{"small", 12, 16, 4, 2, 0.5f, false},
                                    {"negative_mask", 10, 9, 3, 0, 1.0f, true},
                                    {"one_learner", 6, 8, 1, 0, 0.01f, false},
                                    {"authors_sizes", 80, 128, 8, 5, 0.01f, false}};
  const std::string dir = test::scratch_dir("learner_masks");
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MaskCase& c = cases[ci];
    Tensor masks = test::random_tensor({c.k, c.d}, 40 + unsigned(ci), -0.5f, 1.5f);
    if (c.negative_row)
      for (int j = 0; j < c.d; ++j) masks.data()[int64_t(c.k - 1) * c.d + j] = -0.25f - 0.01f * float(j);
    inputs.push_back({{"emb", test::random_tensor({c.n, c.d}, 50 + unsigned(ci))},
                      {"masks", masks},
                      {"seed", test::random_tensor({c.n, c.d}, 60 + unsigned(ci))}});
    const std::string in = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(in, inputs.back());
    manifest.push_back({{"name", c.name}, {"input", in}, {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"learner", c.learner}, {"lambda", c.lambda}});
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("learner_masks_ref.py", {dir + "/manifest.json"});

  constexpr double kTolerance = 1e-5;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MaskCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    const Variable emb = Variable(inputs[ci].at("emb").clone(), true);
    const Variable masks = Variable(inputs[ci].at("masks").clone(), true);
    Variable en = masked_learner_embedding(emb, masks, c.learner);
    en.backward(inputs[ci].at("seed"));
    EXPECT_LT(test::relative_error(en.value(), ref.at("en")), kTolerance) << "embedding";
    EXPECT_LT(test::relative_error(emb.grad(), ref.at("d_emb")), kTolerance) << "d emb";
    EXPECT_LT(test::relative_error(masks.grad(), ref.at("d_masks")), kTolerance) << "d masks";
    const std::vector<float> dm = masks.grad().to_vector();
    for (int r = 0; r < c.k; ++r)
      for (int j = 0; r != c.learner && j < c.d; ++j)
        ASSERT_EQ(dm[size_t(r) * c.d + j], 0.0f) << "mask " << r << " is not learner " << c.learner << "'s";

    const Variable fresh = Variable(inputs[ci].at("masks").clone(), true);
    MaskOrthogonality orth = mask_orthogonality(fresh, c.lambda);
    orth.loss.backward();
    const double want = ref.at("orth").data()[0];
    EXPECT_NEAR(orth.value, want, 1e-6 * std::max(1e-3, std::fabs(want))) << "orthogonality term";
    EXPECT_EQ(orth.loss.value().item(), float(orth.value));
    if (c.k == 1) {
      EXPECT_EQ(orth.value, 0.0);
      for (float g : fresh.grad().to_vector()) EXPECT_EQ(g, 0.0f);
    } else {
      EXPECT_LT(test::relative_error(fresh.grad(), ref.at("d_masks_orth")), kTolerance) << "d masks (orthogonality)";
    }
    if (c.negative_row)
      for (int j = 0; j < c.d; ++j) EXPECT_EQ(fresh.grad().data()[int64_t(c.k - 1) * c.d + j], 0.0f);
  }
}

TEST(LearnerMasks, BadShapesAndLearnersAreErrors) {
  const Variable emb(test::random_tensor({4, 8}, 1)), masks(Tensor::full({3, 8}, 1.0f));
  EXPECT_NE(test::error_of([&] { masked_learner_embedding(emb, masks, 3); }).find("learner 3 of 3 masks"),
            std::string::npos);
  const Variable wide(Tensor::full({3, 9}, 1.0f));
  EXPECT_NE(test::error_of([&] { masked_learner_embedding(emb, wide, 0); }).find("do not fit the embedding"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { mask_orthogonality(Variable(Tensor::full({8}, 1.0f)), 1.0); }).find("(K, d)"),
            std::string::npos);
}

}  // namespace
