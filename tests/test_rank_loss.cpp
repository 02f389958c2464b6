// The rank-approximation loss (losses/rank_loss.h, our reconstruction of seed 003 from its abstract) against PyTorch
// autograd in float64 (tests/reference/rank_loss_ref.py, which builds the (B, B, B) tensor the engine avoids), its
// argument checks, and the CUDA twin against the CPU one. Relative error ||ours - ref|| / ||ref|| must stay under
// 1e-5 for the value terms and dS (a float32 emulation of the CPU twin in NumPy gave at most 4e-7 on these cases).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "losses/rank_loss.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

constexpr double kTolerance = 1e-5;

enum class SimKind {
  Random,      // uniform in [-1, 1)
  Ties,        // uniform, then rounded to a multiple of 0.5: many exact ties in every row
  NearTies,    // 0.3 + 0.01 u: differences of a few tau at tau = 1e-3 (the sigmoids neither 0 nor 1)
  Saturated,   // +-1 only: at tau = 1e-3 every sigmoid is 0, 1 or (a tie) 0.5
};

struct RankCase {
  std::string name;
  std::vector<int64_t> labels;
  float tau = 0.05f, rho = 0.2f;
  SimKind sim = SimKind::Random;
};

std::vector<int64_t> classes_of(int classes, int per_class) {
  std::vector<int64_t> labels;
  for (int c = 0; c < classes; ++c)
    for (int m = 0; m < per_class; ++m) labels.push_back(c);
  return labels;
}

std::vector<RankCase> rank_cases() {
  std::vector<int64_t> batch33 = classes_of(8, 4);
  batch33.push_back(99);  // 8 classes of 4 and one class of one image
  return {
      {"odd5_class_of_one", {0, 0, 1, 1, 2}},
      {"odd7_interleaved_tau0.1_rho0.1", {0, 1, 0, 2, 1, 0, 3}, 0.1f, 0.1f},
      {"ties_odd7", {0, 0, 1, 1, 1, 2, 2}, 0.05f, 0.2f, SimKind::Ties},
      {"all_same_label_no_negatives", std::vector<int64_t>(6, 4)},
      {"all_different_no_positives", {0, 1, 2, 3, 4, 5}},
      {"minimal_batch_of_3", {0, 0, 1}},
      {"batch_of_2_is_zero", {0, 0}},
      {"batch_of_1_is_zero", {7}},
      {"large_labels", {int64_t(1) << 40, 3, int64_t(1) << 40, 3, -5}},  // only equality matters
      {"tau_min_near_ties", {0, 0, 1, 1, 2, 2, 3}, 1e-3f, 0.05f, SimKind::NearTies},
      {"tau_min_saturated_with_ties", {0, 0, 0, 1, 1, 1, 2}, 1e-3f, 0.2f, SimKind::Saturated},
      {"tau_max_rho_max", {0, 0, 1, 1, 2}, 1.0f, 10.0f},
      {"rho_min", {0, 1, 0, 1, 2, 2, 2}, 0.05f, 0.01f},
      {"batch33_8x4_plus_one", batch33},
  };
}

Tensor make_similarities(const RankCase& c, unsigned seed) {
  const int n = static_cast<int>(c.labels.size());
  Tensor S = test::random_tensor({n, n}, seed);
  float* s = S.data();
  for (int64_t e = 0; e < S.numel(); ++e) {
    if (c.sim == SimKind::Ties) s[e] = std::round(s[e] * 2.0f) / 2.0f;
    if (c.sim == SimKind::NearTies) s[e] = 0.3f + 0.01f * s[e];
    if (c.sim == SimKind::Saturated) s[e] = s[e] < 0.0f ? -1.0f : 1.0f;
  }
  for (int i = 0; i < n; ++i) s[i * n + i] = 1.0f;  // never read; as a cosine similarity matrix has it
  return S;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({static_cast<int64_t>(labels.size())}, Device::cpu(), DType::I64);
  for (size_t r = 0; r < labels.size(); ++r) t.data_i64()[r] = labels[r];
  return t;
}

double g_worst_error = 0.0;

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  double ref_norm = 0.0;
  for (float v : want) ref_norm += double(v) * v;
  if (ref_norm == 0.0) {  // no pairs of a kind, or a batch too small to rank: exactly zero on both sides
    for (float v : got) EXPECT_EQ(v, 0.0f) << what;
    return;
  }
  const double err = test::relative_error(got, want);
  g_worst_error = std::max(g_worst_error, err);
  EXPECT_LT(err, kTolerance) << what << ": relative error " << err;
}

// One call of the reference script computes every case (importing torch costs seconds).
TEST(RankLossVsTorch, ValuesAndGradientsOfEveryCase) {
  SGML_SKIP_WITHOUT_TORCH();
  const std::string dir = test::scratch_dir("rank_loss");
  const auto cases = rank_cases();
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<Tensor> similarities;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const RankCase& c = cases[ci];
    const Tensor S = make_similarities(c, 500 + 7 * unsigned(ci));
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, TensorMap{{"S", S}, {"labels", labels_tensor(c.labels)}});
    manifest.push_back({{"name", c.name}, {"input", input}, {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"tau", c.tau}, {"rho", c.rho}});
    similarities.push_back(S);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("rank_loss_ref.py", {dir + "/manifest.json"});

  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const RankCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    g_worst_error = 0.0;
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    const RankLossResult r = rank_approximation_loss(similarities[ci], c.labels, c.tau, c.rho);
    const std::vector<float> terms = r.terms.to_vector(), ref_terms = ref.at("terms").to_vector();
    const char* names[] = {"L", "L_pos", "L_neg"};
    for (int t = 0; t < 3; ++t) expect_close({terms[t]}, {ref_terms[t]}, names[t]);
    expect_close(r.dS.to_vector(), ref.at("dS").to_vector(), "dS");
    for (float v : r.dS.to_vector()) ASSERT_TRUE(std::isfinite(v)) << "dS";
    std::printf("  %-35s L %-12.6g worst relative error %.2e\n", c.name.c_str(), terms[0], g_worst_error);
  }
}

TEST(RankLoss, CountsOrderedPairsAndScalesOnlyTheGradient) {
  const std::vector<int64_t> labels{0, 0, 0, 1, 1, 2, 3, 3, 3};  // classes of 3, 2, 1, 3 images
  const Tensor S = test::random_tensor({9, 9}, 41);
  const RankLossResult one = rank_approximation_loss(S, labels, 0.05f, 0.2f, 1.0f);
  const RankLossResult half = rank_approximation_loss(S, labels, 0.05f, 0.2f, 0.5f);
  EXPECT_EQ(one.positive_pairs, 3 * 2 + 2 * 1 + 0 + 3 * 2);
  EXPECT_EQ(one.negative_pairs, 9 * 8 - one.positive_pairs);
  EXPECT_EQ(one.terms.to_vector(), half.terms.to_vector());
  std::vector<float> dS = one.dS.to_vector();
  for (float& x : dS) x *= 0.5f;  // a power of two: exact
  EXPECT_EQ(half.dS.to_vector(), dS);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(one.dS.to_vector()[i * 9 + i], 0.0f) << "the diagonal is never used";
}

TEST(RankLoss, RejectsBadArgumentsNamingThem) {
  const Tensor S = test::random_tensor({4, 4}, 3);
  const std::vector<int64_t> labels{0, 0, 1, 1};
  // The fragments are of the message itself: the failed condition the suite adds (SGML_ERROR_LOCATIONS) also
  // names tau and rho, but not their range or the value given.
  const auto error_names = [](const std::function<void()>& f, const std::string& fragment) {
    const std::string what = test::error_of(f);
    EXPECT_NE(what.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << what;
  };
  const Tensor rectangle = test::random_tensor({4, 3}, 4);
  error_names([&] { rank_approximation_loss(rectangle, labels, 0.05f, 0.2f); },
              "rank_approximation_loss needs S (B, B), got [4, 3]");
  error_names([&] { rank_approximation_loss(S, {0, 0, 1}, 0.05f, 0.2f); }, "3 labels for a batch of 4");
  const std::string tau_range = "tau must be between 0.001 and 1, got ";
  const std::string rho_range = "rho must be between 0.01 and 10, got ";
  error_names([&] { rank_approximation_loss(S, labels, 1e-4f, 0.2f); }, tau_range + "0.0001");
  error_names([&] { rank_approximation_loss(S, labels, 2.0f, 0.2f); }, tau_range + "2");
  error_names([&] { rank_approximation_loss(S, labels, 0.05f, 1e-3f); }, rho_range + "0.001");
  error_names([&] { rank_approximation_loss(S, labels, 0.05f, 20.0f); }, rho_range + "20");
  error_names([&] { rank_approximation_loss(S, labels, NAN, 0.2f); }, tau_range + "nan");
}

// The CUDA twin was written on a machine without a GPU: this test is what checks it on one.
TEST(RankLossCuda, MatchesCpuAndIsDeterministic) {
  SGML_SKIP_WITHOUT_GPU();
  struct Case {
    std::vector<int64_t> labels;
    float tau, rho;
  };
  std::vector<int64_t> with_single = classes_of(10, 3);
  with_single.push_back(77);
  // 164 = the paper's batch-wise batch (41 x 4), more columns than threads per block (300 = 100 x 3).
  for (const Case& c : {Case{classes_of(41, 4), 0.05f, 0.2f}, Case{classes_of(100, 3), 0.01f, 0.1f},
                        Case{with_single, 1e-3f, 0.05f}, Case{classes_of(1, 9), 1.0f, 10.0f},
                        Case{{0, 1, 0, 1, 2}, 0.05f, 0.2f}, Case{{0, 0, 1}, 0.05f, 0.2f}, Case{{0, 1}, 0.05f, 0.2f}}) {
    const int n = static_cast<int>(c.labels.size());
    SCOPED_TRACE(testing::Message() << "B " << n << " tau " << c.tau << " rho " << c.rho);
    const Tensor S = test::random_tensor({n, n}, 13 + n);
    const RankLossResult cpu = rank_approximation_loss(S, c.labels, c.tau, c.rho, 0.75f);
    const RankLossResult gpu = rank_approximation_loss(S.to(test::gpu()), c.labels, c.tau, c.rho, 0.75f);
    SGML_ASSERT_ON_GPU(gpu.terms);
    EXPECT_LT(test::relative_error(gpu.terms.to(Device::cpu()), cpu.terms), 1e-5) << "terms";
    EXPECT_LT(test::relative_error(gpu.dS.to(Device::cpu()), cpu.dS), 1e-5) << "dS";
    const RankLossResult again = rank_approximation_loss(S.to(test::gpu()), c.labels, c.tau, c.rho, 0.75f);
    EXPECT_EQ(again.terms.to_vector(), gpu.terms.to_vector()) << "the CUDA reductions must be bitwise reproducible";
    EXPECT_EQ(again.dS.to_vector(), gpu.dS.to_vector()) << "the CUDA reductions must be bitwise reproducible";
  }
}

}  // namespace
