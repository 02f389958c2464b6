#include "data/samplers.h"

#include <algorithm>
#include <numeric>

#include "data/random_stream.h"
#include "engine/check.h"

namespace sgml {

namespace {

// Stream tags, so that the epoch order and the per-step draws of the two samplers never share a stream.
enum : uint64_t {
  kClassOrder = 0xC1A55, kClassDraw = 0xD4A3, kAnchorOrder = 0xA2C4, kTripletDraw = 0x3217, kClusterSampler = 0xC1D5,
  kFillDraw = 0xF111
};

template <class T>
void shuffle(std::vector<T>& v, RandomStream& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(rng.below(int64_t(i)))]);
}

std::vector<std::vector<int>> members_by_label(const std::vector<int>& labels) {
  std::vector<std::vector<int>> members;
  for (int i = 0; i < int(labels.size()); ++i) {
    SGML_CHECK(labels[size_t(i)] >= 0, "image ", i, " has a negative label ", labels[size_t(i)]);
    if (labels[size_t(i)] >= int(members.size())) members.resize(size_t(labels[size_t(i)]) + 1);
    members[size_t(labels[size_t(i)])].push_back(i);
  }
  members.erase(std::remove_if(members.begin(), members.end(), [](const auto& m) { return m.empty(); }), members.end());
  return members;
}

}  // namespace

ClassBalance parse_class_balance(const std::string& name) {
  if (name == "fixed") return ClassBalance::Fixed;
  if (name == "adaptive") return ClassBalance::Adaptive;
  SGML_FAIL("unknown class balance '", name, "': expected fixed or adaptive");
}

BatchWiseSampler::BatchWiseSampler(const std::vector<int>& labels, int classes_per_batch, int images_per_class,
                                   uint64_t seed, ClassBalance balance)
    : members_(members_by_label(labels)),
      num_images_(int(labels.size())),
      classes_per_batch_(classes_per_batch),
      images_per_class_(images_per_class),
      batch_size_(classes_per_batch * images_per_class),
      balance_(balance),
      seed_(seed) {
  SGML_CHECK(classes_per_batch >= 1 && images_per_class >= 1, "batch-wise sampling of ", classes_per_batch,
             " classes x ", images_per_class, " images per batch");
  const int classes = int(members_.size());
  if (balance == ClassBalance::Adaptive && classes < classes_per_batch) {
    // The authors' answer to a cluster with few classes: the same batch size from the classes there are.
    SGML_CHECK(classes >= 2, "batch-wise sampling needs at least 2 classes (negatives), got ", classes);
    classes_per_batch_ = classes;
    images_per_class_ = batch_size_ / classes;
    larger_classes_ = batch_size_ % classes;
  }
  SGML_CHECK(classes >= classes_per_batch_, "batch-wise sampling of ", classes_per_batch_,
             " classes per batch, but the training set has ", classes, " classes (lower classes-per-batch)");
  steps_per_epoch_ = (int64_t(classes) + classes_per_batch_ - 1) / classes_per_batch_;
}

std::vector<int> BatchWiseSampler::batch(int64_t step) const {
  SGML_CHECK(step >= 0, "step ", step);
  const int64_t epoch = step / steps_per_epoch_, in_epoch = step % steps_per_epoch_;
  std::vector<int> order(members_.size());
  std::iota(order.begin(), order.end(), 0);
  RandomStream order_rng(mix_seed(seed_, uint64_t(epoch), kClassOrder));
  shuffle(order, order_rng);
  RandomStream rng(mix_seed(seed_, uint64_t(step), kClassDraw));
  // Adaptive: which of the batch's classes give one image more (drawn per batch, as the authors' sampler).
  std::vector<char> larger(size_t(classes_per_batch_), 0);
  if (larger_classes_ > 0) {
    std::vector<int> positions(larger.size());
    std::iota(positions.begin(), positions.end(), 0);
    shuffle(positions, rng);
    for (int k = 0; k < larger_classes_; ++k) larger[size_t(positions[size_t(k)])] = 1;
  }
  std::vector<int> out;
  out.reserve(size_t(batch_size_));
  for (int c = 0; c < classes_per_batch_; ++c) {
    std::vector<int> pick =
        members_[size_t(order[size_t((in_epoch * classes_per_batch_ + c) % int64_t(order.size()))])];
    shuffle(pick, rng);
    const size_t wanted = size_t(images_per_class_ + larger[size_t(c)]);
    out.insert(out.end(), pick.begin(), pick.begin() + std::min(wanted, pick.size()));
    if (balance_ == ClassBalance::Fixed)
      for (size_t m = pick.size(); m < wanted; ++m) out.push_back(pick[size_t(rng.below(int64_t(pick.size())))]);
  }
  if (out.size() < size_t(batch_size_)) {  // Adaptive: places left by short classes, from the images not in it
    RandomStream fill_rng(mix_seed(seed_, uint64_t(step), kFillDraw));
    std::vector<char> taken(size_t(num_images_), 0);
    for (int i : out) taken[size_t(i)] = 1;
    std::vector<int> free;  // every image belongs to some class (labels >= 0), so these are the images not taken
    for (int i = 0; i < num_images_; ++i)
      if (!taken[size_t(i)]) free.push_back(i);
    const size_t need = size_t(batch_size_) - out.size();
    for (size_t k = 0; k < std::min(need, free.size()); ++k) {  // a partial Fisher-Yates draw
      std::swap(free[k], free[k + size_t(fill_rng.below(int64_t(free.size() - k)))]);
      out.push_back(free[k]);
    }
    while (out.size() < size_t(batch_size_))  // fewer images than a batch: repeats are unavoidable
      out.push_back(out[size_t(fill_rng.below(int64_t(out.size())))]);
  }
  return out;
}

int classes_with_pairs(const std::vector<int>& labels) {
  std::vector<int> sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  int classes = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    classes += j - i >= 2;
    i = j;
  }
  return classes;
}

BatchesPerEpoch parse_batches_per_epoch(const std::string& name) {
  if (name == "plain") return BatchesPerEpoch::Plain;
  if (name == "max") return BatchesPerEpoch::Max;
  if (name == "min") return BatchesPerEpoch::Min;
  SGML_FAIL("unknown batches per epoch '", name, "': expected plain, max or min");
}

ClusterBatchSampler::ClusterBatchSampler(const std::vector<int>& labels, const std::vector<int>& clusters,
                                         int num_clusters, int classes_per_batch, int images_per_class, uint64_t seed,
                                         int64_t plain_steps_per_epoch, BatchesPerEpoch length, EpochAnchor anchor,
                                         ClassBalance balance)
    : sizes_(size_t(std::max(num_clusters, 0)), 0), kept_(size_t(std::max(num_clusters, 0)), 0),
      steps_per_epoch_(plain_steps_per_epoch), anchor_(anchor) {
  SGML_CHECK(num_clusters >= 1, "cluster-wise sampling needs at least one cluster, got ", num_clusters);
  SGML_CHECK(clusters.size() == labels.size(), "cluster-wise sampling: ", clusters.size(), " cluster ids for ",
             labels.size(), " images");
  SGML_CHECK(plain_steps_per_epoch >= 1, "cluster-wise sampling: ", plain_steps_per_epoch, " steps per epoch");
  SGML_CHECK(anchor.step >= 0 && anchor.epoch >= 0, "cluster-wise sampling: epoch ", anchor.epoch, " at step ",
             anchor.step);
  for (int c = 0; c < num_clusters; ++c) {
    std::vector<int> images;
    std::vector<int> count_of_label;
    for (int i = 0; i < int(labels.size()); ++i) {
      SGML_CHECK(clusters[size_t(i)] >= -1 && clusters[size_t(i)] < num_clusters, "image ", i, " is in cluster ",
                 clusters[size_t(i)], " of ", num_clusters);
      if (clusters[size_t(i)] != c) continue;
      ++sizes_[size_t(c)];
      if (labels[size_t(i)] >= int(count_of_label.size())) count_of_label.resize(size_t(labels[size_t(i)]) + 1, 0);
      ++count_of_label[size_t(labels[size_t(i)])];
      images.push_back(i);
    }
    std::vector<int> kept, kept_labels;
    for (int i : images) {
      if (count_of_label[size_t(labels[size_t(i)])] < 2) continue;  // a single image of its class here
      kept.push_back(i);
      kept_labels.push_back(labels[size_t(i)]);
    }
    const int classes = classes_with_pairs(kept_labels);
    if (classes < 2) continue;  // no negatives: nothing to learn from this cluster this round (none kept)
    kept_[size_t(c)] = int(kept.size());
    const uint64_t part_seed = mix_seed(seed, uint64_t(c), kClusterSampler);
    const int cluster_classes = balance == ClassBalance::Fixed ? std::min(classes_per_batch, classes)
                                                               : classes_per_batch;  // Adaptive keeps the size
    parts_.push_back({c, kept, BatchWiseSampler(kept_labels, cluster_classes, images_per_class, part_seed, balance)});
  }
  SGML_CHECK(!parts_.empty(), "cluster-wise sampling: none of the ", num_clusters, " clusters of the ", labels.size(),
             " training images has two classes with two images each, so no batch has a positive and a negative "
             "(fewer --learners, or more images per class)");
  if (length != BatchesPerEpoch::Plain) {
    // Rounds of one batch per usable cluster, as many as the largest (smallest) cluster has batches: the authors
    // count a cluster's batches as its images over the batch size, rounded down (their loader's length), at least 1.
    const int64_t batch_size = int64_t(classes_per_batch) * images_per_class;
    auto batches_of = [&](const Part& p) { return std::max<int64_t>(1, int64_t(p.images.size()) / batch_size); };
    int64_t rounds = batches_of(parts_.front());
    for (const Part& p : parts_)
      rounds = length == BatchesPerEpoch::Max ? std::max(rounds, batches_of(p)) : std::min(rounds, batches_of(p));
    steps_per_epoch_ = rounds * int64_t(parts_.size());
  }
}

std::pair<int64_t, int64_t> ClusterBatchSampler::epoch_of(int64_t step) const {
  SGML_CHECK(step >= anchor_.step, "cluster-wise sampling: step ", step, " comes before these clusters' first step ",
             anchor_.step);
  const int64_t since = step - anchor_.step;
  return {anchor_.epoch + since / steps_per_epoch_, since % steps_per_epoch_};
}

int64_t ClusterBatchSampler::turn_of(int64_t step) const {
  // The clusters take turns across epochs: a plain epoch (whose length need not be a multiple of the clusters) ends
  // wherever it ends and the next one goes on with the next cluster, so every cluster gets its share of the steps.
  // Turns are counted from epoch 0 as if every epoch had this length, so that anchoring the same clusters at any
  // epoch's start (a resumed run anchors at its own first epoch) gives the same batches; with max or min, whose
  // epochs are whole rounds, each epoch starts again at the first cluster.
  const auto [epoch, in_epoch] = epoch_of(step);
  return epoch * steps_per_epoch_ + in_epoch;
}

int ClusterBatchSampler::cluster_of(int64_t step) const {
  return parts_[size_t(turn_of(step) % int64_t(parts_.size()))].cluster;
}

std::vector<int> ClusterBatchSampler::batch(int64_t step) const {
  // Each cluster's own sampler moves on by one batch per turn it gets, so its epochs follow one another.
  const int64_t turn = turn_of(step), parts = int64_t(parts_.size());
  const Part& part = parts_[size_t(turn % parts)];
  std::vector<int> out = part.sampler.batch(turn / parts);
  for (int& i : out) i = part.images[size_t(i)];
  return out;
}

ImageWiseSampler::ImageWiseSampler(const std::vector<int>& labels, int triplets_per_batch, uint64_t seed)
    : labels_(labels), triplets_per_batch_(triplets_per_batch), seed_(seed) {
  SGML_CHECK(triplets_per_batch >= 1, "image-wise sampling of ", triplets_per_batch, " triplets per batch");
  // Dense lookup by label: members_[label].
  for (int i = 0; i < int(labels.size()); ++i) {
    SGML_CHECK(labels[size_t(i)] >= 0, "image ", i, " has a negative label ", labels[size_t(i)]);
    if (labels[size_t(i)] >= int(members_.size())) members_.resize(size_t(labels[size_t(i)]) + 1);
    members_[size_t(labels[size_t(i)])].push_back(i);
  }
  int classes = 0;
  for (const auto& m : members_) classes += !m.empty();
  SGML_CHECK(classes >= 2, "image-wise sampling needs at least 2 training classes (negatives), got ", classes);
  steps_per_epoch_ = (int64_t(labels.size()) + triplets_per_batch - 1) / triplets_per_batch;
}

std::vector<int> ImageWiseSampler::batch(int64_t step) const {
  SGML_CHECK(step >= 0, "step ", step);
  const int64_t n = int64_t(labels_.size()), epoch = step / steps_per_epoch_, in_epoch = step % steps_per_epoch_;
  std::vector<int> anchors(labels_.size());
  std::iota(anchors.begin(), anchors.end(), 0);
  RandomStream order_rng(mix_seed(seed_, uint64_t(epoch), kAnchorOrder));
  shuffle(anchors, order_rng);
  RandomStream rng(mix_seed(seed_, uint64_t(step), kTripletDraw));
  std::vector<int> out;
  out.reserve(size_t(batch_size()));
  for (int t = 0; t < triplets_per_batch_; ++t) {
    const int a = anchors[size_t((in_epoch * triplets_per_batch_ + t) % n)];
    const std::vector<int>& same = members_[size_t(labels_[size_t(a)])];
    int p = a;
    if (same.size() > 1) {
      const int k = same[size_t(rng.below(int64_t(same.size()) - 1))];
      p = k == a ? same.back() : k;  // uniform over the members other than a
    }
    // Uniform over the images of other classes: there are n - |same| of them; rejection needs n / (n - |same|)
    // draws on average.
    int neg = int(rng.below(n));
    while (labels_[size_t(neg)] == labels_[size_t(a)]) neg = int(rng.below(n));
    out.insert(out.end(), {a, p, neg});
  }
  return out;
}

SequentialBatches::SequentialBatches(int num_images, int batch_size)
    : num_images_(num_images), batch_size_(batch_size) {
  SGML_CHECK(num_images >= 0 && batch_size >= 1, num_images, " images in batches of ", batch_size);
}

std::vector<int> SequentialBatches::batch(int64_t step) const {
  std::vector<int> out;
  for (int64_t i = step * batch_size_; i < std::min<int64_t>(num_images_, (step + 1) * batch_size_); ++i)
    out.push_back(int(i));
  return out;
}

int64_t SequentialBatches::num_batches() const { return (num_images_ + batch_size_ - 1) / batch_size_; }

}  // namespace sgml
