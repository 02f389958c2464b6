// kNN search, Recall@K and MAP@R against the independent NumPy reference (tests/reference/retrieval_ref.py, one
// call for the suite), and the CUDA search against the CPU one.
//
// Exactness: "quantised" rows have four non-zero entries of +-s with s a power of two, so every normalised entry is
// +-1/2 and every cosine similarity is a multiple of 1/4, computed exactly in float32 by any summation order. The
// ranking (score, then lower index) is then fully determined, ties and all, and must match the float64 brute force
// index for index. Continuous random rows check the same search where only float32 rounding separates the two.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/math_precision.h"
#include "engine/safetensors.h"
#include "retrieval/knn_search.h"
#include "retrieval/metrics.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// Rows with four +-scale entries (scale in {1/2, 1, 2}); every `duplicate_every`-th row repeats an earlier one and
// row `zero_row` (if >= 0) is all zeros.
Tensor quantised_rows(int64_t rows, int64_t d, unsigned seed, int duplicate_every, int64_t zero_row = -1) {
  std::mt19937 rng(seed);
  std::vector<float> v(size_t(rows * d), 0.0f);
  const float scales[3] = {0.5f, 1.0f, 2.0f};
  for (int64_t r = 0; r < rows; ++r) {
    float* row = &v[size_t(r * d)];
    if (r == zero_row) continue;
    if (duplicate_every > 0 && r > 0 && r % duplicate_every == 0) {
      const int64_t src = rng() % r;
      std::copy_n(&v[size_t(src * d)], d, row);
      continue;
    }
    const float s = scales[rng() % 3];
    for (int placed = 0; placed < 4;) {
      const int64_t c = rng() % d;
      if (row[c] != 0.0f) continue;
      row[c] = (rng() % 2 ? s : -s);
      ++placed;
    }
  }
  return Tensor::from_vector(v, {rows, d});
}

std::vector<int64_t> random_labels(int64_t n, int classes, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> l(static_cast<size_t>(n));
  for (auto& x : l) x = int64_t(rng() % classes);
  return l;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({int64_t(labels.size())}, Device::cpu(), DType::I64);
  std::copy(labels.begin(), labels.end(), t.data_i64());
  return t;
}

struct RankCase {
  std::string name;
  Tensor queries, gallery;  // gallery undefined in leave-one-out
  std::vector<int64_t> query_labels, gallery_labels;
  int k = 1;
  bool leave_one_out = false;
  int64_t block_rows = kDefaultKnnBlockRows;
  bool exact = true;  // quantised rows: the ranking must match index for index
  // Filled from the reference:
  TensorMap ref;
  nlohmann::json scalars;
};

const std::vector<int> kRecallKs = {1, 2, 4, 8, 16, 1000};

std::vector<RankCase> make_cases() {
  std::vector<RankCase> cases;
  {  // query -> gallery, every rank, with duplicates, a zero row, singleton and absent query classes
    RankCase c;
    c.name = "query_gallery_full";
    c.gallery = quantised_rows(101, 16, 1, 5, /*zero_row=*/17);
    c.gallery_labels = random_labels(101, 12, 2);
    c.gallery_labels[40] = 50;  // a class with one gallery image
    Tensor q = quantised_rows(37, 16, 3, 0);
    std::vector<float> qv = q.to_vector(), gv = c.gallery.to_vector();
    for (int r : {4, 9, 30}) std::copy_n(&gv[size_t((r * 3) * 16)], 16, &qv[size_t(r * 16)]);  // exact copies
    c.queries = Tensor::from_vector(qv, {37, 16});
    c.query_labels = random_labels(37, 12, 4);
    c.query_labels[5] = 99;  // absent from the gallery
    c.query_labels[6] = 50;
    c.k = 101;
    cases.push_back(c);
    c.name = "query_gallery_top7_blocks_of_8";
    c.k = 7;
    c.block_rows = 8;
    cases.push_back(c);
  }
  {  // leave-one-out with duplicates (ties with self's copies) and classes of one image
    RankCase c;
    c.name = "leave_one_out_full";
    c.queries = quantised_rows(90, 12, 5, 4);
    c.query_labels = random_labels(90, 15, 6);
    c.query_labels[3] = 77;
    c.query_labels[50] = 78;
    c.gallery_labels = c.query_labels;
    c.leave_one_out = true;
    c.k = 89;
    cases.push_back(c);
    c.name = "leave_one_out_top5_blocks_of_7";
    c.k = 5;
    c.block_rows = 7;
    cases.push_back(c);
  }
  {  // continuous rows: only float32 rounding separates us from the reference
    RankCase c;
    c.name = "continuous";
    c.queries = test::random_tensor({50, 24}, 7);
    c.gallery = test::random_tensor({300, 24}, 8);
    c.query_labels = random_labels(50, 20, 9);
    c.gallery_labels = random_labels(300, 20, 10);
    c.k = 20;
    c.block_rows = 16;
    c.exact = false;
    cases.push_back(c);
  }
  return cases;
}

class RetrievalReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cases_ = make_cases();
    const std::string dir = test::scratch_dir("retrieval_rank_" + std::to_string(getpid()));
    nlohmann::json manifest = nlohmann::json::array();
    for (RankCase& c : cases_) {
      TensorMap in{{"queries", c.queries}, {"query_labels", labels_tensor(c.query_labels)},
                   {"gallery_labels", labels_tensor(c.gallery_labels)}};
      if (!c.leave_one_out) in["gallery"] = c.gallery;
      save_safetensors(dir + "/" + c.name + "_in.safetensors", in);
      manifest.push_back({{"name", c.name}, {"kind", "rank"}, {"input", dir + "/" + c.name + "_in.safetensors"},
                          {"output", dir + "/" + c.name + "_ref.safetensors"},
                          {"scalars", dir + "/" + c.name + "_ref.json"},
                          {"params", {{"k", c.k}, {"ks", kRecallKs}, {"leave_one_out", c.leave_one_out}}}});
    }
    write_file_atomically(dir + "/manifest.json", manifest.dump(1));
    test::run_reference("retrieval_ref.py", {dir + "/manifest.json"});
    for (RankCase& c : cases_) {
      c.ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
      std::ifstream(dir + "/" + c.name + "_ref.json") >> c.scalars;
    }
  }
  static KnnResult search(const RankCase& c, Device device = Device::cpu()) {
    const Tensor q = c.queries.to(device);
    const Tensor g = c.leave_one_out ? q : c.gallery.to(device);
    return knn_search(q, g, c.k, {c.leave_one_out, c.block_rows});
  }
  static inline std::vector<RankCase> cases_;
};

TEST_F(RetrievalReference, KnnQuantisedMatchesBruteForceIndexForIndexIncludingTies) {
  int compared = 0;
  for (const RankCase& c : cases_) {
    if (!c.exact) continue;
    SCOPED_TRACE(c.name);
    const KnnResult ours = search(c);
    const Tensor& ref_idx = c.ref.at("indices");
    ASSERT_EQ(ref_idx.shape(), (Shape{ours.num_queries, c.k}));
    const int64_t* ri = ref_idx.data_i64();
    const std::vector<float> rs = c.ref.at("scores").to_vector();
    for (size_t i = 0; i < ours.indices.size(); ++i) {
      ASSERT_EQ(ours.indices[i], ri[i]) << "query " << i / c.k << " rank " << i % c.k;
      ASSERT_EQ(ours.scores[i], rs[i]) << "query " << i / c.k << " rank " << i % c.k;  // multiples of 1/4: exact
    }
    ++compared;
  }
  EXPECT_EQ(compared, 4);
}

TEST_F(RetrievalReference, KnnContinuousRanksLikeFloat64BruteForce) {
  const RankCase& c = cases_.back();
  ASSERT_FALSE(c.exact);
  const KnnResult ours = search(c);
  const std::vector<float> sim = c.ref.at("similarity").to_vector(), ref_scores = c.ref.at("scores").to_vector();
  const int64_t* ref_idx = c.ref.at("indices").data_i64();
  const int64_t n = c.gallery.dim(0);
  int same_index = 0;
  for (int64_t q = 0; q < ours.num_queries; ++q)
    for (int r = 0; r < c.k; ++r) {
      const size_t i = size_t(q * c.k + r);
      // Our score is the reference's score of our item, and that item is as good as the reference's r-th.
      EXPECT_NEAR(ours.scores[i], sim[size_t(q * n + ours.indices[i])], 1e-5);
      EXPECT_NEAR(sim[size_t(q * n + ours.indices[i])], ref_scores[i], 1e-5);
      // Where the reference's neighbours are well separated, the index itself must agree.
      const bool separated = (r == 0 || ref_scores[i - 1] - ref_scores[i] > 1e-4) &&
                             (r == c.k - 1 || ref_scores[i] - ref_scores[i + 1] > 1e-4);
      if (separated) EXPECT_EQ(ours.indices[i], ref_idx[i]) << "query " << q << " rank " << r;
      same_index += ours.indices[i] == ref_idx[i];
    }
  EXPECT_GT(same_index, int(ours.indices.size() * 9 / 10));  // the separation rule did not excuse everything
}

TEST_F(RetrievalReference, RecallAndMapAtRMatchNumpy) {
  for (const RankCase& c : cases_) {
    if (!c.exact) continue;
    SCOPED_TRACE(c.name);
    EvalOptions options;
    options.compute_nmi = false;
    options.block_rows = c.block_rows;
    const RetrievalMetrics m =
        c.leave_one_out
            ? evaluate_leave_one_out(c.queries, c.query_labels, kRecallKs, Device::cpu(), options)
            : evaluate_retrieval(c.queries, c.query_labels, c.gallery, c.gallery_labels, kRecallKs, Device::cpu(),
                                 options);
    for (size_t i = 0; i < kRecallKs.size(); ++i)
      EXPECT_NEAR(m.recall.at(kRecallKs[i]), c.scalars["recall"][i].get<double>(), 1e-12) << "K " << kRecallKs[i];
    EXPECT_NEAR(m.map_at_r, c.scalars["map_at_r"].get<double>(), 1e-12);
    // The cases are built so that the conventions matter: some query can never be matched, and not every
    // query is a hit at 1.
    EXPECT_GT(m.queries_without_match, 0);
    EXPECT_LT(m.recall.at(1), 1.0);
    EXPECT_LT(m.recall.at(1000), 1.0);  // unmatched queries stay misses at any K
  }
}

}  // namespace

// ---------------------------------------------------------------- properties from the definition

TEST(RetrievalKnn, LeaveOneOutOfIdenticalRowsIsEveryOtherIndexInOrder) {
  // All scores tie at 1, so the ranking is the index order with the query itself left out.
  const int64_t n = 9;
  const Tensor x = Tensor::full({n, 5}, 0.3f);
  const KnnResult r = knn_search(x, x, int(n - 1), {true, 4});
  for (int64_t q = 0; q < n; ++q) {
    std::vector<int32_t> expected;
    for (int32_t g = 0; g < n; ++g)
      if (g != q) expected.push_back(g);
    EXPECT_EQ(std::vector<int32_t>(r.indices.begin() + q * (n - 1), r.indices.begin() + (q + 1) * (n - 1)), expected);
  }
}

// The block size changes the GEMM's shape, and OpenBLAS picks its kernel and summation order by shape and CPU
// (an AMD EPYC and an Intel Xeon round differently; M = 1 may even go through GEMV), so continuous scores may differ
// in the last bits between block sizes. Bit-equality holds only where every score is exact in float32: the
// quantised rows (multiples of 1/4). Continuous rows are compared up to rounding: scores within `tolerance`, and
// indices equal except where two candidates' scores are within `tolerance` of each other (a near-tie may swap, or
// cross the k-th place).
namespace {
void expect_same_lists_up_to_ties(const KnnResult& a, const KnnResult& b, float tolerance, const std::string& what) {
  ASSERT_EQ(a.num_queries, b.num_queries) << what;
  ASSERT_EQ(a.k, b.k) << what;
  const int k = a.k;
  int swapped = 0;
  for (int64_t q = 0; q < a.num_queries; ++q)
    for (int r = 0; r < k; ++r) {
      ASSERT_NEAR(a.score(q, r), b.score(q, r), tolerance) << what << " query " << q << " rank " << r;
      const int32_t item = a.index(q, r);
      if (item == b.index(q, r)) continue;
      ++swapped;
      // The item moved: it must appear in b's list with a score tied to this one, or have dropped past b's k-th
      // place while tied with b's last score.
      int where = -1;
      for (int s = 0; s < k; ++s)
        if (b.index(q, s) == item) where = s;
      const float tied_with = where >= 0 ? b.score(q, where) : b.score(q, k - 1);
      EXPECT_NEAR(a.score(q, r), tied_with, 2 * tolerance)
          << what << " query " << q << " rank " << r << ": item " << item << " moved to rank " << where
          << " without a near-tie";
    }
  EXPECT_LE(swapped, int(a.indices.size() / 20)) << what << ": too many swaps for rounding alone";
}
}  // namespace

TEST(RetrievalKnn, BlockSizeDoesNotChangeExactScoresAtAll) {
  // Multiples of 1/4 are exact in any summation order: the lists are bit-identical by construction.
  const Tensor q = quantised_rows(23, 16, 11, 4), g = quantised_rows(40, 16, 12, 3);
  const KnnResult whole = knn_search(q, g, 6, {false, 1024});
  for (int64_t block : {1, 3, 22}) {
    const KnnResult blocked = knn_search(q, g, 6, {false, block});
    EXPECT_EQ(blocked.indices, whole.indices) << block;
    EXPECT_EQ(blocked.scores, whole.scores) << block;
  }
}

TEST(RetrievalKnn, BlockSizeChangesContinuousListsOnlyUpToRounding) {
  const Tensor q = test::random_tensor({23, 8}, 11), g = test::random_tensor({40, 8}, 12);
  const KnnResult whole = knn_search(q, g, 6, {false, 1024});
  for (int64_t block : {1, 3, 22}) {
    const KnnResult blocked = knn_search(q, g, 6, {false, block});
    expect_same_lists_up_to_ties(blocked, whole, 1e-6f, "block " + std::to_string(block));
  }
  // Leave-one-out with a block that does not divide the rows.
  const Tensor x = test::random_tensor({57, 12}, 13);
  expect_same_lists_up_to_ties(knn_search(x, x, 9, {true, 5}), knn_search(x, x, 9, {true, 1024}), 1e-6f,
                               "leave-one-out");
}

TEST(RetrievalKnn, RejectsBadArguments) {
  const Tensor q = test::random_tensor({4, 3}, 1), g = test::random_tensor({6, 3}, 2);
  // Each error names the argument, the value given and what was expected.
  const auto error_names = [](const std::function<void()>& f, const std::string& fragment) {
    const std::string what = test::error_of(f);
    EXPECT_NE(what.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << what;
  };
  error_names([&] { knn_search(q, g, 0); }, "k = 0 outside [1, 6] (6 gallery rows)");
  error_names([&] { knn_search(q, g, 7); }, "k = 7 outside [1, 6] (6 gallery rows)");
  EXPECT_NO_THROW(knn_search(q, g, 6));
  // Leave-one-out: at most N - 1, and the queries must be the gallery.
  error_names([&] { knn_search(g, g, 6, {true}); }, "k = 6 outside [1, 5] (6 gallery rows, leave-one-out)");
  error_names([&] { knn_search(q, g, 2, {true}); },
              "leave-one-out needs the query set to be the gallery, got 4 and 6 rows");
  const Tensor wider = test::random_tensor({6, 4}, 3);
  error_names([&] { knn_search(q, wider, 2); }, "with the same number of columns D, got [4, 3] and [6, 4]");
  error_names([&] { knn_search(q, g, 2, {false, 0}); }, "block_rows must be positive, got 0");
  // A NaN in the gallery, and one in the queries: the side, the row and the column.
  std::vector<float> bad = g.to_vector();
  bad[5] = NAN;
  error_names([&] { knn_search(q, Tensor::from_vector(bad, g.shape()), 2); },
              "knn gallery has a non-finite value at row 1, column 2");
  std::vector<float> bad_query = q.to_vector();
  bad_query[9] = INFINITY;
  error_names([&] { knn_search(Tensor::from_vector(bad_query, q.shape()), g, 2); },
              "knn queries has a non-finite value at row 3, column 0");
}

TEST(RetrievalMetricsJson, HasTheDocumentedKeys) {
  const Tensor x = quantised_rows(20, 8, 3, 0);
  const RetrievalMetrics m = evaluate_leave_one_out(x, random_labels(20, 4, 5), {1, 4}, Device::cpu());
  const nlohmann::json j = m.to_json();
  for (const char* key : {"recall@1", "recall@4", "map@r", "nmi", "num_queries", "num_gallery", "protocol"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["protocol"], "leave-one-out");
  EXPECT_EQ(j["num_queries"], 20);
  EXPECT_DOUBLE_EQ(j["recall@4"].get<double>(), m.recall.at(4));
  EvalOptions no_nmi;
  no_nmi.compute_nmi = false;
  EXPECT_FALSE(
      evaluate_leave_one_out(x, random_labels(20, 4, 5), {1}, Device::cpu(), no_nmi).to_json().contains("nmi"));
}

// ---------------------------------------------------------------- CUDA against CPU

namespace {

void expect_same_search(const Tensor& q, const Tensor& g, int k, const KnnOptions& options, bool exact_ties) {
  const KnnResult cpu = knn_search(q, g, k, options);
  const Tensor qd = q.to(test::gpu());
  const Tensor gd = options.leave_one_out ? qd : g.to(test::gpu());
  const KnnResult gpu = knn_search(qd, gd, k, options);
  ASSERT_EQ(gpu.indices.size(), cpu.indices.size());
  if (exact_ties) {
    EXPECT_EQ(gpu.indices, cpu.indices);
    EXPECT_EQ(gpu.scores, cpu.scores);
  } else {  // cuBLAS and OpenBLAS round differently: swaps only between scores within 1e-5
    expect_same_lists_up_to_ties(gpu, cpu, 1e-5f, "GPU vs CPU");
  }
}

}  // namespace

TEST(RetrievalKnnCuda, QuantisedTiesMatchCpuExactly) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor g = quantised_rows(3000, 32, 21, 3, 10), q = quantised_rows(700, 32, 22, 2);
  expect_same_search(q, g, 50, {false, 256}, true);
  expect_same_search(g, g, 64, {true, 1024}, true);
  expect_same_search(g, g, 1, {true, 999}, true);
}

TEST(RetrievalKnnCuda, ContinuousMatchesCpu) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor g = test::random_tensor({5000, 128}, 31), q = test::random_tensor({2100, 128}, 32);
  expect_same_search(q, g, 10, {false, 1024}, false);
  expect_same_search(g, g, 40, {true, 512}, false);
}

// Under --precision tf32 the ranking still multiplies in fp32: TF32's relative 1e-3 would show as score differences
// (about 1e-4 here) above the 1e-5 that fp32's summation orders stay within.
TEST(RetrievalKnnCuda, RanksInFp32UnderTf32) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor g = test::random_tensor({3000, 128}, 33), q = test::random_tensor({500, 128}, 34);
  const MathPrecisionScope tf32(MathPrecision::Tf32);
  expect_same_search(q, g, 10, {false, 1024}, false);
  EXPECT_EQ(math_precision(), MathPrecision::Tf32);  // restored after the search
}

TEST(RetrievalKnnCuda, LargeKFallsBackToHostSelection) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor g = quantised_rows(1500, 16, 41, 3), q = quantised_rows(100, 16, 42, 0);
  expect_same_search(q, g, kGpuTopKMax + 100, {false, 64}, true);
}

TEST(RetrievalKnnCuda, EvaluationOnGpuEqualsCpu) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor x = quantised_rows(600, 16, 51, 3);
  const std::vector<int64_t> labels = random_labels(600, 30, 52);
  EvalOptions options;
  options.compute_nmi = false;  // k-means on the GPU: test_retrieval_clustering.cpp
  const RetrievalMetrics cpu = evaluate_leave_one_out(x, labels, {1, 2, 4, 8}, Device::cpu(), options);
  const RetrievalMetrics gpu = evaluate_leave_one_out(x, labels, {1, 2, 4, 8}, test::gpu(), options);
  EXPECT_EQ(gpu.recall, cpu.recall);
  EXPECT_EQ(gpu.map_at_r, cpu.map_at_r);
  EXPECT_EQ(gpu.neighbours.indices, cpu.neighbours.indices);
}
