// Which learner a Divide & Conquer step trains (training/trainer.cpp prepare_dnc_step): a real run through the
// Trainer on a small In-shop dataset (tests/reference/sgml_reference.py make-data: 8 classes, so one step per epoch),
// with the linear head, K = 3 learners on d = 10 (rows [0, 4), [4, 8), [8, 10) of head.emb) and the metric loss.
// In a clustered epoch the loss sees the step's cluster's slice only, so only that learner's rows of head.emb get a
// gradient; with weight decay 0, Adam leaves a parameter whose gradient and moments are 0 bitwise unchanged. In a
// full-embedding epoch every row gets a gradient, also those of a learner that no step has trained yet.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/dataset.h"
#include "training/dataset_batches.h"
#include "training/trainer.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// head.emb's rows of each learner: ceil(10 / 3) = 4 columns each, the last learner the 2 left.
constexpr int kDim = 10, kLearners = 3, kFeatures = 512;  // ResNet-18's pooled feature
constexpr std::pair<int, int> kRows[kLearners] = {{0, 4}, {4, 8}, {8, 10}};

struct HeadEmb {
  std::vector<float> weight, bias;  // (d, F), (d)
};

HeadEmb head_emb(const SgmlModel& model) {
  const TensorMap state = model.store().state_dict();
  return {state.at("head.emb.weight").to_vector(), state.at("head.emb.bias").to_vector()};
}

// The real data source, and a record of head.emb and of the cluster at each step: the trainer asks for a step's
// batch after it chose the step's learner and before the update.
class RecordingBatches : public BatchSource {
 public:
  explicit RecordingBatches(std::unique_ptr<BatchSource> inner) : inner_(std::move(inner)) {}
  TrainBatch batch(int64_t step) override {
    before.push_back(head_emb(*model));
    clusters.push_back(inner_->cluster_of(step));
    return inner_->batch(step);
  }
  int64_t steps_per_epoch() const override { return inner_->steps_per_epoch(); }
  int num_attributes() const override { return inner_->num_attributes(); }
  int num_classes() const override { return inner_->num_classes(); }
  Tensor clustering_features(SgmlModel& m, std::vector<int>* rows) override {
    return inner_->clustering_features(m, rows);
  }
  int num_images() const override { return inner_->num_images(); }
  void set_clusters(const std::vector<int>& c, int k, EpochAnchor anchor) override {
    inner_->set_clusters(c, k, anchor);
  }
  int cluster_of(int64_t step) const override { return inner_->cluster_of(step); }
  std::vector<int> cluster_sizes() const override { return inner_->cluster_sizes(); }
  std::vector<int> cluster_kept() const override { return inner_->cluster_kept(); }
  std::vector<int> image_labels() const override { return inner_->image_labels(); }

  const SgmlModel* model = nullptr;
  std::vector<HeadEmb> before;  // per step
  std::vector<int> clusters;    // per step

 private:
  std::unique_ptr<BatchSource> inner_;
};

// Whether any weight of `row` of head.emb, or its bias, differs between a and b.
bool row_moved(const HeadEmb& a, const HeadEmb& b, int row) {
  if (a.bias[size_t(row)] != b.bias[size_t(row)]) return true;
  for (int c = 0; c < kFeatures; ++c)
    if (a.weight[size_t(row) * kFeatures + c] != b.weight[size_t(row) * kFeatures + c]) return true;
  return false;
}

int learner_of_row(int row) {
  for (int k = 0; k < kLearners; ++k)
    if (row >= kRows[k].first && row < kRows[k].second) return k;
  return -1;
}

// The record of a run of `steps` steps of one epoch each on the make-data dataset in `data`: head.emb before each
// step and after the last, and the cluster of each step's batch. full_embedding_epoch: the epochs on slices (0: all).
struct Record {
  std::vector<HeadEmb> states;
  std::vector<int> clusters;
};

Record run_dnc(const std::string& data, int full_embedding_epoch, int64_t steps) {
  const Dataset dataset = load_dataset("deepfashion", data, std::nullopt, /*attributes_needed=*/false);
  EXPECT_EQ(dataset.num_train_classes(), 8);
  TrainConfig c;
  c.dataset = "deepfashion";
  c.data_dir = data;
  c.model = "resnet18";
  c.no_pretrained = true;
  c.image_size = 32;
  c.device = "cpu";
  c.workers = 2;
  c.seed = 4;
  c.method = "dnc";
  c.head = "linear";
  c.learners = kLearners;
  c.embedding_dim = kDim;
  c.loss = LossMode::Metric;  // binomial deviance: never exactly flat, so every trained row gets a gradient
  c.classes_per_batch = 8;    // all 8 classes: one step per (plain-length) epoch
  c.images_per_class = 2;
  c.full_embedding_epoch = full_embedding_epoch;
  c.recluster_every = 10;  // one clustering
  c.weight_decay = 0.0;    // untouched parameters stay bitwise equal
  c.lr = 1e-3;
  c.lr_schedule = "constant";
  c.steps = steps;
  c.eval_every = 0;
  auto source = std::make_unique<RecordingBatches>(std::make_unique<DatasetBatchSource>(dataset, c));
  RecordingBatches* recorded = source.get();
  Trainer trainer(c, std::move(source));
  trainer.initialise_model();
  recorded->model = &trainer.model();
  trainer.run();
  EXPECT_EQ(trainer.progress().epoch, steps) << "one step per epoch";
  Record r{recorded->before, recorded->clusters};
  r.states.push_back(head_emb(trainer.model()));
  EXPECT_EQ(r.states.back().weight.size(), size_t(kDim) * kFeatures) << "head.emb.weight (d, F)";
  std::printf("the batches of steps 1 to %lld are of clusters", (long long)steps);
  for (int k : r.clusters) std::printf(" %d", k);
  std::printf("\n");
  return r;
}

class DncTrainerStep : public ::testing::Test {
 protected:
  void SetUp() override {
    SGML_SKIP_WITHOUT_TORCH();  // the dataset is written by the reference script
    data_ = test::scratch_dir("dnc_learner_step") + "/data";
    test::run_reference("sgml_reference.py", {"make-data", data_});
  }
  std::string data_;
};

// Two clustered steps (epochs 1 and 2, on slices): step 1 moves its cluster's learner's rows only; step 2, of the
// next cluster, moves that learner's rows, while those of the learner in neither step stay bitwise unchanged (step
// 1's learner's rows move on by Adam's moments: not checked).
TEST_F(DncTrainerStep, ClusteredStepTrainsOnlyItsClustersLearner) {
  const Record r = run_dnc(data_, /*full_embedding_epoch=*/0, /*steps=*/2);
  ASSERT_EQ(r.states.size(), 3u);
  ASSERT_EQ(r.clusters.size(), 2u);
  for (int k : r.clusters) ASSERT_TRUE(k >= 0 && k < kLearners) << k;
  ASSERT_NE(r.clusters[0], r.clusters[1]) << "the clusters take turns: the test needs two learners";
  for (int row = 0; row < kDim; ++row)
    EXPECT_EQ(row_moved(r.states[0], r.states[1], row), learner_of_row(row) == r.clusters[0])
        << "step 1: row " << row << " of learner " << learner_of_row(row) << "; the batch is of cluster "
        << r.clusters[0];
  for (int row = 0; row < kDim; ++row) {
    const int learner = learner_of_row(row);
    if (learner == r.clusters[0]) continue;
    EXPECT_EQ(row_moved(r.states[1], r.states[2], row), learner == r.clusters[1])
        << "step 2: row " << row << " of learner " << learner << "; the batch is of cluster " << r.clusters[1];
  }
}

// A clustered step on slices (epoch 1), then one on the whole embedding (epoch 2, --full-embedding-epoch 1): every
// row moves in step 2, also those of the learner that is neither step 1's nor step 2's batch's cluster, which
// move only if the whole embedding reaches the loss.
TEST_F(DncTrainerStep, FullEmbeddingStepTrainsEveryLearner) {
  const Record r = run_dnc(data_, /*full_embedding_epoch=*/1, /*steps=*/2);
  ASSERT_EQ(r.states.size(), 3u);
  ASSERT_EQ(r.clusters.size(), 2u);
  for (int row = 0; row < kDim; ++row)
    EXPECT_EQ(row_moved(r.states[0], r.states[1], row), learner_of_row(row) == r.clusters[0])
        << "step 1: row " << row << " of learner " << learner_of_row(row) << "; the batch is of cluster "
        << r.clusters[0];
  for (int row = 0; row < kDim; ++row)
    EXPECT_TRUE(row_moved(r.states[1], r.states[2], row))
        << "step 2: row " << row << " of learner " << learner_of_row(row) << "; step 1 trained learner "
        << r.clusters[0] << ", step 2's batch is of cluster " << r.clusters[1];
}

}  // namespace
