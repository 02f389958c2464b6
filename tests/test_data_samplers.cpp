// Samplers (batch composition, coverage per epoch, determinism) and batch plans (reading, errors naming the line).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "data/batch_plan.h"
#include "data/samplers.h"
#include "engine/check.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// 10 classes of sizes 1, 2, ..., 10 (55 images), interleaved so that the indices of a class are not contiguous.
std::vector<int> uneven_labels() {
  std::vector<int> labels;
  for (int round = 0; round < 10; ++round)
    for (int c = 0; c < 10; ++c)
      if (round <= c) labels.push_back(c);
  return labels;
}

TEST(DataSampler, BatchWiseComposition) {
  const std::vector<int> labels = uneven_labels();
  std::map<int, int> class_size;
  for (int l : labels) ++class_size[l];
  BatchWiseSampler s(labels, 4, 3, 7);
  EXPECT_EQ(s.batch_size(), 12);
  EXPECT_EQ(s.steps_per_epoch(), 3);  // ceil(10 / 4)
  for (int64_t step = 0; step < 30; ++step) {
    const std::vector<int> b = s.batch(step);
    ASSERT_EQ(b.size(), 12u);
    std::set<int> classes;
    for (int c = 0; c < 4; ++c) {
      const int label = labels[size_t(b[size_t(c) * 3])];
      classes.insert(label);
      std::set<int> distinct;
      for (int m = 0; m < 3; ++m) {
        ASSERT_EQ(labels[size_t(b[size_t(c) * 3 + m])], label) << "step " << step;  // M' images of one class
        distinct.insert(b[size_t(c) * 3 + m]);
      }
      // Distinct images when the class has enough; else every image of the class, the rest with replacement.
      EXPECT_EQ(int(distinct.size()), std::min(3, class_size[label])) << "class " << label;
    }
    EXPECT_EQ(classes.size(), 4u) << "step " << step;  // N' distinct classes, also in the wrapped last batch
  }
}

TEST(DataSampler, BatchWiseCoversEveryClassEachEpoch) {
  const std::vector<int> labels = uneven_labels();
  BatchWiseSampler s(labels, 4, 2, 3);
  std::vector<std::set<int>> epochs(5);
  ASSERT_EQ(s.steps_per_epoch(), 3);  // ceil(10 classes / 4)
  for (int64_t step = 0; step < 5 * s.steps_per_epoch(); ++step)
    for (int i : s.batch(step)) epochs[size_t(step / s.steps_per_epoch())].insert(labels[size_t(i)]);
  for (const auto& seen : epochs) EXPECT_EQ(seen.size(), 10u);
  // Each epoch visits the classes in a new order.
  EXPECT_NE(s.batch(0), s.batch(3));
}

TEST(DataSampler, DeterministicInSeedAndStep) {
  const std::vector<int> labels = uneven_labels();
  BatchWiseSampler a(labels, 4, 3, 11), b(labels, 4, 3, 11), c(labels, 4, 3, 12);
  // The batch of a step depends on (seed, step) only: asked in another order, or by another sampler, it is the same.
  const std::vector<int> a5 = a.batch(5);
  for (int64_t step = 6; step >= 0; --step) b.batch(step);
  EXPECT_EQ(a5, b.batch(5));
  EXPECT_EQ(a5, a.batch(5));
  EXPECT_NE(a5, c.batch(5));
  ImageWiseSampler x(labels, 6, 11), y(labels, 6, 11), z(labels, 6, 12);
  const std::vector<int> x4 = x.batch(4);
  for (int64_t step = 9; step >= 0; --step) y.batch(step);
  EXPECT_EQ(x4, y.batch(4));
  EXPECT_NE(x4, z.batch(4));
}

TEST(DataSampler, ImageWiseTriplets) {
  const std::vector<int> labels = uneven_labels();
  const int n = int(labels.size()), t = 8;
  ImageWiseSampler s(labels, t, 5);
  EXPECT_EQ(s.batch_size(), 24);
  EXPECT_EQ(s.steps_per_epoch(), 7);  // ceil(55 / 8)
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::map<int, int> anchored;
    for (int64_t step = epoch * 7; step < (epoch + 1) * 7; ++step) {
      const std::vector<int> b = s.batch(step);
      ASSERT_EQ(b.size(), size_t(3 * t));
      for (int k = 0; k < t; ++k) {
        const int a = b[size_t(3 * k)], p = b[size_t(3 * k + 1)], ng = b[size_t(3 * k + 2)];
        ++anchored[a];
        EXPECT_EQ(labels[size_t(p)], labels[size_t(a)]);
        if (labels[size_t(a)] != 0) EXPECT_NE(p, a);  // class 0 has one image: its positive is itself
        else EXPECT_EQ(p, a);
        EXPECT_NE(labels[size_t(ng)], labels[size_t(a)]);
      }
    }
    // Every image is an anchor in the epoch; 7 * 8 - 55 = 1 is anchored twice (the last batch is completed).
    ASSERT_EQ(int(anchored.size()), n);
    int twice = 0;
    for (const auto& [i, count] : anchored) twice += count == 2;
    EXPECT_EQ(twice, 1);
  }
}

// ClassBalance::Adaptive (the D&C authors' "adaptbalanced"): N' x M' images per batch, none twice, where classes
// are short of images or the set is short of classes.
TEST(DataSampler, AdaptiveBalanceKeepsTheBatchSizeWithoutRepeats) {
  auto counts_of = [](const std::vector<int>& labels, const std::vector<int>& batch) {
    std::map<int, int> count;
    for (int i : batch) ++count[labels[size_t(i)]];
    return count;
  };
  {  // Classes of 1, 2, ..., 10 images: a short class gives all it has; the free places go to other images.
    const std::vector<int> labels = uneven_labels();
    std::map<int, int> class_size;
    for (int l : labels) ++class_size[l];
    const BatchWiseSampler s(labels, 4, 3, 7, ClassBalance::Adaptive);
    EXPECT_EQ(s.batch_size(), 12);
    EXPECT_EQ(s.steps_per_epoch(), 3) << "ceil(10 / 4), as fixed";
    std::set<int> filled_from;
    for (int64_t step = 0; step < 60; ++step) {
      const std::vector<int> b = s.batch(step);
      ASSERT_EQ(b.size(), 12u) << "step " << step;
      EXPECT_EQ(std::set<int>(b.begin(), b.end()).size(), 12u) << "no image twice, step " << step;
      // The first N' groups are the batch's classes, each min(M', size) images; what follows fills the rest.
      size_t at = 0;
      std::set<int> classes;
      for (int c = 0; c < 4; ++c) {
        const int label = labels[size_t(b[at])];
        const int want = std::min(3, class_size[label]);
        for (int m = 0; m < want; ++m) ASSERT_EQ(labels[size_t(b[at + size_t(m)])], label) << "step " << step;
        classes.insert(label);
        at += size_t(want);
      }
      EXPECT_EQ(classes.size(), 4u);
      for (; at < b.size(); ++at) filled_from.insert(labels[size_t(b[at])]);
      for (const auto& [label, count] : counts_of(labels, b)) EXPECT_LE(count, class_size[label]);
    }
    EXPECT_GE(filled_from.size(), 5u) << "free places drawn from many classes";
    const BatchWiseSampler again(labels, 4, 3, 7, ClassBalance::Adaptive);
    EXPECT_EQ(again.batch(5), s.batch(5)) << "a pure function of (seed, step)";
  }
  {  // 5 classes for N' = 6, M' = 2: every class in every batch, 12 / 5 = 2 images each and 2 classes with 3,
     // drawn per batch.
    std::vector<int> labels;
    for (int c = 0; c < 5; ++c)
      for (int m = 0; m < 10; ++m) labels.push_back(c);
    const BatchWiseSampler s(labels, 6, 2, 3, ClassBalance::Adaptive);
    EXPECT_EQ(s.batch_size(), 12);
    EXPECT_EQ(s.steps_per_epoch(), 1);
    std::set<int> had_three;
    for (int64_t step = 0; step < 40; ++step) {
      const std::vector<int> b = s.batch(step);
      ASSERT_EQ(b.size(), 12u);
      EXPECT_EQ(std::set<int>(b.begin(), b.end()).size(), 12u);
      const std::map<int, int> count = counts_of(labels, b);
      ASSERT_EQ(count.size(), 5u) << "step " << step;
      int threes = 0;
      for (const auto& [label, n] : count) {
        EXPECT_TRUE(n == 2 || n == 3) << n;
        if (n == 3) had_three.insert(label), ++threes;
      }
      EXPECT_EQ(threes, 2);
    }
    EXPECT_EQ(had_three.size(), 5u) << "the larger classes change from batch to batch";
  }
  {  // Fewer images (4) than a batch (12): each at least once, the rest repeated.
    const std::vector<int> labels = {0, 1, 0, 1};
    const std::vector<int> b = BatchWiseSampler(labels, 4, 3, 1, ClassBalance::Adaptive).batch(0);
    ASSERT_EQ(b.size(), 12u);
    EXPECT_EQ(std::set<int>(b.begin(), b.end()), (std::set<int>{0, 1, 2, 3}));
  }
  EXPECT_THROW(BatchWiseSampler(std::vector<int>(6, 2), 4, 3, 1, ClassBalance::Adaptive), Error) << "one class";
  EXPECT_THROW(BatchWiseSampler(uneven_labels(), 11, 2, 0), Error) << "fixed: 10 classes for 11";
  EXPECT_EQ(parse_class_balance("adaptive"), ClassBalance::Adaptive);
  EXPECT_NE(test::error_of([] { parse_class_balance("even"); }).find("expected fixed or adaptive"),
            std::string::npos);
}

TEST(DataSampler, RefusesImpossibleSettings) {
  const std::vector<int> labels = uneven_labels();
  EXPECT_THROW(BatchWiseSampler(labels, 11, 2, 0), Error);  // 10 classes
  EXPECT_THROW(ImageWiseSampler(std::vector<int>(5, 3), 2, 0), Error);  // no negatives
  EXPECT_THROW(BatchWiseSampler(labels, 0, 2, 0), Error);
}

TEST(DataSampler, SequentialBatches) {
  SequentialBatches s(10, 4);
  EXPECT_EQ(s.num_batches(), 3);
  EXPECT_EQ(s.batch(0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(s.batch(2), (std::vector<int>{8, 9}));
  EXPECT_TRUE(s.batch(3).empty());
}

std::string plan_file(const std::string& text) {
  const std::string path = test::scratch_dir("plan") + "/plan.txt";
  std::ofstream(path) << text;
  return path;
}

std::string plan_error(const std::string& path, int n, int group = 1) {
  try {
    read_batch_plan(path, n, group);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(DataBatchPlan, ReadsStepsInOrder) {
  const BatchPlan plan = read_batch_plan(plan_file("# written by a test\n0 1 2   3\n\n4\t5 6 7 8 9\n"), 10);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0], (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(plan[1], (std::vector<int>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(plan_batch(plan, 3), plan[1]);  // cycles
}

TEST(DataBatchPlan, ErrorsNameFileAndLine) {
  struct Case {
    std::string text, expected;
    int group;
  };
  const std::vector<Case> cases = {
      {"0 1\n2 x 3\n", "line 2: image index 'x' is not an integer", 1},
      {"0 1\n\n2 10\n", "line 3: image index 10 is outside the 10 training images", 1},
      {"0 1\n-1 2\n", "line 2: image index -1 is outside", 1},
      {"0 1 2\n3 4 5 6\n", "line 2: 4 indices; image-wise sampling needs a, p, n triplets", 3},
      {"0 1\n5\n", "line 2: a batch needs at least 2 images", 1},
      {"\n# nothing\n", "the batch plan has no steps", 1},
  };
  for (const Case& c : cases) {
    const std::string path = plan_file(c.text);
    const std::string message = plan_error(path, 10, c.group);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
  }
  EXPECT_NE(plan_error("/nonexistent/plan.txt", 10).find("cannot open '/nonexistent/plan.txt'"), std::string::npos);
}

}  // namespace
