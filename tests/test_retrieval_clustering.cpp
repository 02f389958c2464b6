// NMI and k-means against scikit-learn (tests/reference/retrieval_ref.py, one call for the suite).
//
// NMI is compared on the same labellings (ours vs normalized_mutual_info_score), so a clustering difference cannot
// hide an NMI bug. k-means is a local search for an NP-hard optimum, so no single run is "the" answer (one seeded
// run of either implementation lands anywhere in a ~20% band on these sets): we check that ours ends at a Lloyd
// fixed point (every row's nearest cluster mean is its own cluster, the inertia we report is that of our clusters)
// and that, under the same protocol as scikit-learn's n_init=10 (ten seeded greedy k-means++ runs, the lowest
// inertia kept), it reaches an inertia within 1% of scikit-learn's. Evaluation runs k-means once, so the seeding
// alone is also compared: the inertias of single runs, ours and scikit-learn's (k-means++ and random rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "layers/l2_normalize.h"
#include "retrieval/kmeans.h"
#include "retrieval/metrics.h"
#include "retrieval/nmi.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({int64_t(labels.size())}, Device::cpu(), DType::I64);
  std::copy(labels.begin(), labels.end(), t.data_i64());
  return t;
}

std::vector<int64_t> random_labels(size_t n, int groups, unsigned seed, int64_t offset = 0) {
  std::mt19937 rng(seed);
  std::vector<int64_t> l(n);
  for (auto& x : l) x = offset + int64_t(rng() % groups);
  return l;
}

// `classes` Gaussian blobs of `per_class` rows in `d` dimensions; labels = blob.
Tensor blobs(int classes, int per_class, int d, float spread, unsigned seed, std::vector<int64_t>& labels) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> centre(-1.0f, 1.0f);
  std::normal_distribution<float> noise(0.0f, spread);
  std::vector<float> centres(size_t(classes * d)), x;
  for (auto& c : centres) c = centre(rng);
  labels.clear();
  for (int i = 0; i < classes * per_class; ++i) {
    const int c = (i * 7919) % classes;  // interleaved, so cluster order is not row order
    labels.push_back(c);
    for (int j = 0; j < d; ++j) x.push_back(centres[size_t(c * d + j)] + noise(rng));
  }
  return Tensor::from_vector(x, {int64_t(classes) * per_class, d});
}

struct NmiCase {
  std::string name;
  std::vector<int64_t> truth, pred;
  double ref = 0;
};

struct KMeansCase {
  std::string name;
  Tensor x;
  std::vector<int64_t> labels;
  int k = 0;
  int single_runs = 0;  // single seeded runs of scikit-learn to compare (retrieval_ref.py's single_runs)
  KMeansResult ours;
  TensorMap ref;
  nlohmann::json scalars;
};

class RetrievalClustering : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Labellings with singletons, more clusters than classes, arbitrary label values and the degenerate cases.
    std::vector<int64_t> a = random_labels(300, 10, 1), perm(a);
    for (auto& v : perm) v = 1000 - 3 * v;  // a relabelling: NMI 1
    std::vector<int64_t> singletons = random_labels(60, 5, 2);
    for (int i = 0; i < 8; ++i) singletons[i] = 100 + i;
    nmi_ = {{"random_vs_random", random_labels(500, 12, 3), random_labels(500, 7, 4, -20)},
            {"relabelled", a, perm},
            {"singletons", singletons, random_labels(60, 9, 5)},
            {"one_vs_many", std::vector<int64_t>(40, 3), random_labels(40, 4, 6)},
            {"many_vs_one", random_labels(40, 4, 7), std::vector<int64_t>(40, 8)},
            {"one_vs_one", std::vector<int64_t>(10, 1), std::vector<int64_t>(10, 2)},
            {"all_singletons", {0, 1, 2, 3, 4, 5}, {9, 9, 8, 8, 7, 7}}};

    KMeansCase blob;
    blob.name = "blobs";
    blob.x = blobs(15, 40, 8, 0.25f, 11, blob.labels);
    blob.k = 15;
    KMeansCase normalised;  // what the metric clusters: unit rows, many classes
    normalised.name = "normalised_blobs";
    Tensor raw = blobs(40, 12, 16, 0.3f, 12, normalised.labels);
    normalised.x = l2_normalize_forward(raw).y;
    normalised.k = 40;
    // Well separated: one k-means++ run finds nearly every blob, k rows drawn uniformly leave several merged.
    KMeansCase separated;
    separated.name = "separated_blobs";
    separated.x = blobs(30, 20, 8, 0.1f, 13, separated.labels);
    separated.k = 30;
    separated.single_runs = 20;
    kmeans_ = {blob, normalised, separated};
    KMeansOptions ten_runs;
    ten_runs.restarts = 10;
    for (KMeansCase& c : kmeans_) c.ours = kmeans(c.x, c.k, ten_runs);

    const std::string dir = test::scratch_dir("retrieval_clustering_" + std::to_string(getpid()));
    nlohmann::json manifest = nlohmann::json::array();
    auto add = [&](const std::string& name, const std::string& kind, const TensorMap& in, nlohmann::json params) {
      save_safetensors(dir + "/" + name + "_in.safetensors", in);
      manifest.push_back({{"name", name}, {"kind", kind}, {"input", dir + "/" + name + "_in.safetensors"},
                          {"output", dir + "/" + name + "_ref.safetensors"},
                          {"scalars", dir + "/" + name + "_ref.json"}, {"params", params}});
    };
    for (const NmiCase& c : nmi_)
      add(c.name, "nmi", {{"labels_true", labels_tensor(c.truth)}, {"labels_pred", labels_tensor(c.pred)}}, {});
    for (const KMeansCase& c : kmeans_)
      add(c.name, "kmeans",
          {{"x", c.x},
           {"labels", labels_tensor(c.labels)},
           {"assignment", labels_tensor(std::vector<int64_t>(c.ours.assignment.begin(), c.ours.assignment.end()))}},
          {{"k", c.k}, {"single_runs", c.single_runs}});
    write_file_atomically(dir + "/manifest.json", manifest.dump(1));
    test::run_reference("retrieval_ref.py", {dir + "/manifest.json"});
    for (NmiCase& c : nmi_) {
      nlohmann::json j;
      std::ifstream(dir + "/" + c.name + "_ref.json") >> j;
      c.ref = j["nmi"].get<double>();
    }
    for (KMeansCase& c : kmeans_) {
      c.ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
      std::ifstream(dir + "/" + c.name + "_ref.json") >> c.scalars;
    }
  }
  static inline std::vector<NmiCase> nmi_;
  static inline std::vector<KMeansCase> kmeans_;
};

TEST_F(RetrievalClustering, NmiMatchesSklearn) {
  for (const NmiCase& c : nmi_) {
    SCOPED_TRACE(c.name);
    EXPECT_NEAR(normalized_mutual_info(c.truth, c.pred), c.ref, 1e-12);
  }
  // The cases cover both ends and the middle of the range.
  EXPECT_EQ(nmi_[1].ref, 1.0);
  EXPECT_EQ(nmi_[3].ref, 0.0);
  EXPECT_GT(nmi_[0].ref, 0.0);
  EXPECT_LT(nmi_[0].ref, 0.2);
}

TEST_F(RetrievalClustering, KMeansEndsAtALloydFixedPointWithinOnePercentOfSklearn) {
  for (const KMeansCase& c : kmeans_) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.ours.converged);
    const int64_t* nearest = c.ref.at("nearest_mean").data_i64();
    for (size_t i = 0; i < c.ours.assignment.size(); ++i) ASSERT_EQ(c.ours.assignment[i], nearest[i]) << "row " << i;
    EXPECT_NEAR(c.ours.inertia, c.scalars["inertia_of_assignment"].get<double>(),
                1e-9 * c.scalars["inertia_of_assignment"].get<double>());
    const double sklearn = c.scalars["sklearn_inertia"].get<double>();
    EXPECT_LE(c.ours.inertia, 1.01 * sklearn) << "sklearn best of 10: " << sklearn;
    // NMI of our own clustering, ours vs sklearn's formula.
    EXPECT_NEAR(normalized_mutual_info(c.labels, {c.ours.assignment.begin(), c.ours.assignment.end()}),
                c.scalars["nmi"].get<double>(), 1e-12);
  }
}

TEST_F(RetrievalClustering, EvaluationNmiIsTheNmiOfTheSeededClustering) {
  const KMeansCase& c = kmeans_[1];  // rows already unit length: normalising again changes nothing but rounding
  EvalOptions options;
  options.kmeans_restarts = 10;
  const RetrievalMetrics m = evaluate_leave_one_out(c.x, c.labels, {1}, Device::cpu(), options);
  ASSERT_TRUE(m.nmi.has_value());
  EXPECT_NEAR(*m.nmi, c.scalars["nmi"].get<double>(), 1e-3);
  EXPECT_GT(*m.nmi, 0.5);  // the blobs are clusters: a clustering that ignores them would score near 0
}

// As evaluation computes it (one seeded k-means run, EvalOptions' defaults), on both protocols: leave-one-out
// clusters the set, query/gallery the union of the two (In-shop). On these blobs one run reaches the NMI of
// sklearn's best of ten (0.02: a few points in another cluster); labels misaligned with the union's rows would not.
TEST_F(RetrievalClustering, EvaluationNmiOfBothProtocolsAsSklearnsKMeans) {
  const KMeansCase& c = kmeans_[1];
  const double sklearn = c.scalars["sklearn_nmi"].get<double>();
  const RetrievalMetrics loo = evaluate_leave_one_out(c.x, c.labels, {1}, Device::cpu(), EvalOptions{});
  ASSERT_TRUE(loo.nmi.has_value());
  EXPECT_NEAR(*loo.nmi, sklearn, 0.02);
  // Queries: every third row; gallery: the others (so each blob has members on both sides).
  const int64_t n = c.x.dim(0), d = c.x.dim(1);
  std::vector<int64_t> query_rows, gallery_rows;
  for (int64_t i = 0; i < n; ++i) (i % 3 == 0 ? query_rows : gallery_rows).push_back(i);
  const auto gather = [&](const std::vector<int64_t>& rows, std::vector<int64_t>& labels) {
    Tensor t = Tensor::empty({int64_t(rows.size()), d});
    for (size_t r = 0; r < rows.size(); ++r) {
      std::copy(c.x.data() + rows[r] * d, c.x.data() + (rows[r] + 1) * d, t.data() + int64_t(r) * d);
      labels.push_back(c.labels[size_t(rows[r])]);
    }
    return t;
  };
  std::vector<int64_t> query_labels, gallery_labels;
  const Tensor queries = gather(query_rows, query_labels), gallery = gather(gallery_rows, gallery_labels);
  const RetrievalMetrics split =
      evaluate_retrieval(queries, query_labels, gallery, gallery_labels, {1}, Device::cpu(), EvalOptions{});
  ASSERT_TRUE(split.nmi.has_value());
  EXPECT_NEAR(*split.nmi, sklearn, 0.02);
  std::printf("NMI, one seeded run: leave-one-out %.4f, query/gallery union %.4f; sklearn best of 10: %.4f\n",
              *loo.nmi, *split.nmi, sklearn);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Evaluation's protocol is one seeded run (EvalOptions' kmeans_restarts = 1), so the seeding must be k-means++'s:
// on these separated blobs a run seeded by it misses at most a blob or two, while one seeded by k rows drawn
// uniformly merges several and splits others. Medians of 20 single runs, as multiples of the best of ten: 1.00 or
// 1.11 for scikit-learn's k-means++ (no blob missed, or one; ten blocks of 20 seeds), 2.6 to 3.2 for its random
// rows; hence the 25% allowed. The engine with its seeding broken gave 2.5 (rows drawn uniformly) and 1.6 (the
// greedy choice among 2 + ln k candidates dropped).
TEST_F(RetrievalClustering, OneSeededRunIsAsGoodAsSklearnsKMeansPlusPlus) {
  const KMeansCase& c = kmeans_[2];
  const std::vector<double> plus_plus = c.scalars["single_run_inertias"].get<std::vector<double>>();
  const std::vector<double> random_rows = c.scalars["random_init_inertias"].get<std::vector<double>>();
  ASSERT_EQ(plus_plus.size(), size_t(c.single_runs));
  ASSERT_EQ(random_rows.size(), size_t(c.single_runs));
  // The set tells the two seedings apart.
  ASSERT_LT(median(plus_plus), 0.5 * median(random_rows));
  std::vector<double> ours;
  for (int seed = 0; seed < c.single_runs; ++seed) {
    KMeansOptions options;  // as evaluation's: one run
    options.seed = uint64_t(seed);
    ours.push_back(kmeans(c.x, c.k, options).inertia);
  }
  EXPECT_LE(median(ours), 1.25 * median(plus_plus));
  EXPECT_LT(median(ours), 0.5 * median(random_rows));
  std::printf(
      "median inertia of %d single runs: ours %.3f, sklearn k-means++ %.3f, sklearn random rows %.3f "
      "(best of ten %.3f)\n",
      c.single_runs, median(ours), median(plus_plus), median(random_rows), c.scalars["sklearn_inertia"].get<double>());
}

}  // namespace

TEST(RetrievalKMeans, DeterministicForASeed) {
  std::vector<int64_t> labels;
  const Tensor x = blobs(6, 30, 5, 0.5f, 21, labels);
  KMeansOptions options;
  options.seed = 7;
  const KMeansResult a = kmeans(x, 6, options), b = kmeans(x, 6, options);
  EXPECT_EQ(a.assignment, b.assignment);
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.inertia, b.inertia);
}

TEST(RetrievalKMeans, MoreClustersThanDistinctRowsStillEnds) {
  // Three distinct rows repeated: clusters beyond three can only be empty or split duplicates; the optimum is 0.
  std::vector<float> v;
  for (int i = 0; i < 12; ++i) {
    const float base = float(i % 3);
    v.insert(v.end(), {base, 2.0f * base, -base});
  }
  KMeansOptions options;
  options.max_iterations = 20;
  const KMeansResult r = kmeans(Tensor::from_vector(v, {12, 3}), 5, options);
  EXPECT_NEAR(r.inertia, 0.0, 1e-9);
  for (int32_t a : r.assignment) EXPECT_TRUE(a >= 0 && a < 5);
  const std::string too_many = test::error_of([&] { kmeans(Tensor::from_vector(v, {12, 3}), 13); });
  EXPECT_NE(too_many.find("k = 13 outside [1, 12]"), std::string::npos) << too_many;
}

TEST(RetrievalKMeansCuda, MatchesCpuOnSeparatedBlobs) {
  SGML_SKIP_WITHOUT_GPU();
  std::vector<int64_t> labels;
  const Tensor x = blobs(20, 50, 32, 0.1f, 31, labels);
  const KMeansResult cpu = kmeans(x, 20), gpu = kmeans(x.to(test::gpu()), 20);
  // Well-separated blobs leave no assignment to rounding; cluster numbers follow the seeding order, so compare
  // the partitions.
  EXPECT_NEAR(normalized_mutual_info({gpu.assignment.begin(), gpu.assignment.end()},
                                     {cpu.assignment.begin(), cpu.assignment.end()}), 1.0, 1e-12);
  EXPECT_NEAR(gpu.inertia, cpu.inertia, 1e-4 * cpu.inertia);
}
