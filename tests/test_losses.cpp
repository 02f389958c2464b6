// Loss kernels against PyTorch autograd (float64, built from the paper's definitions in losses_ref.py), the pair
// builders against their definitions, and the CUDA twins against the CPU ones. Relative error
// ||ours - ref|| / ||ref|| must stay under 1e-4 for every value and gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "losses/bce.h"
#include "losses/metric_loss.h"
#include "losses/pairs.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

constexpr double kTolerance = 1e-4;

// ---------------------------------------------------------------- pairs

TEST(Pairs, BatchWiseIsEveryUnorderedPairPositiveWhenLabelsMatch) {
  const PairList p = batch_pairs({7, 7, 3, 7});
  // Written out from the definition: (0,1)+ (0,2)- (0,3)+ (1,2)- (1,3)+ (2,3)-.
  EXPECT_EQ(p.i, (std::vector<int32_t>{0, 0, 0, 1, 1, 2}));
  EXPECT_EQ(p.j, (std::vector<int32_t>{1, 2, 3, 2, 3, 3}));
  EXPECT_EQ(p.positive, (std::vector<uint8_t>{1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(p.num_positive(), 3);
  EXPECT_EQ(p.num_negative(), 3);
  EXPECT_EQ(batch_pairs({1}).size(), 0);
  EXPECT_EQ(batch_pairs({}).size(), 0);
}

TEST(Pairs, ImageWiseIsAnchorPositiveThenAnchorNegativePerTriplet) {
  const PairList p = triplet_pairs(6);
  EXPECT_EQ(p.i, (std::vector<int32_t>{0, 3, 0, 3}));
  EXPECT_EQ(p.j, (std::vector<int32_t>{1, 4, 2, 5}));
  EXPECT_EQ(p.positive, (std::vector<uint8_t>{1, 1, 0, 0}));
  const std::string not_triplets = test::error_of([] { triplet_pairs(7); });
  EXPECT_NE(not_triplets.find("a batch of triplets (a multiple of 3 images), got 7 images"), std::string::npos)
      << not_triplets;
}

TEST(Pairs, PackedLayoutAndValidation) {
  const PairList p = batch_pairs({0, 1, 0});
  const Tensor packed = p.packed(Device::cpu());
  ASSERT_EQ(packed.shape(), (Shape{3, 3}));
  ASSERT_EQ(packed.dtype(), DType::I32);
  const int32_t* d = static_cast<const int32_t*>(packed.raw_data());
  EXPECT_EQ(std::vector<int32_t>(d, d + 9), (std::vector<int32_t>{0, 0, 1, 1, 2, 2, 0, 1, 0}));
  EXPECT_NO_THROW(p.validate(3));
  // Each error names the pair (its place in the list and its two images) and what is wrong with it.
  const std::string outside = test::error_of([&] { p.validate(2); });
  EXPECT_NE(outside.find("pair 1 (0, 2) outside a batch of 2"), std::string::npos) << outside;
  PairList twice = p;
  twice.add(0, 2, true);
  const std::string listed_twice = test::error_of([&] { twice.validate(3); });
  EXPECT_NE(listed_twice.find("pair (0, 2) listed twice"), std::string::npos) << listed_twice;
  PairList self;
  self.add(1, 1, true);
  const std::string with_itself = test::error_of([&] { self.validate(3); });
  EXPECT_NE(with_itself.find("pair 0 joins image 1 with itself"), std::string::npos) << with_itself;
}

// ---------------------------------------------------------------- metric loss vs torch

enum class EmbKind { Random, ClassSigns, AlternatingSigns };

struct MetricCase {
  std::string name;
  std::vector<int64_t> labels;
  std::string sampling = "batch";  // batch | image
  bool soft = true;                // SBDL (with G) or BDL
  bool sgs_grad = true;
  float alpha = 2.0f, beta = 0.5f;
  EmbKind emb = EmbKind::Random;
  int d = 8, k = 5;
};

std::vector<int64_t> classes_of(int classes, int per_class) {
  std::vector<int64_t> labels;
  for (int c = 0; c < classes; ++c)
    for (int m = 0; m < per_class; ++m) labels.push_back(c);
  return labels;
}

std::vector<MetricCase> metric_cases() {
  const std::vector<int64_t> four_by_three = classes_of(4, 3);
  std::vector<int64_t> interleaved;  // same classes, not sorted: pairs of a class are not contiguous
  for (int r = 0; r < 12; ++r) interleaved.push_back((r * 5) % 4);
  std::vector<int64_t> triplet_labels(15, 0);  // image-wise ignores the labels
  std::vector<MetricCase> cases = {
      {"sbdl_batch", four_by_three},
      {"sbdl_batch_sgs_grad_off", four_by_three, "batch", true, false},
      {"bdl_batch", four_by_three, "batch", false, false},
      {"sbdl_batch_interleaved_alpha10_beta0.8", interleaved, "batch", true, true, 10.0f, 0.8f},
      {"sbdl_batch_alpha0.5_beta-0.2", four_by_three, "batch", true, true, 0.5f, -0.2f},
      {"sbdl_batch_classes_of_one_image", {0, 0, 1, 2, 3, 3, 3, 4}, "batch", true, true, 3.0f, 0.4f},
      {"sbdl_batch_all_same_label_no_negatives", std::vector<int64_t>(7, 5)},
      {"bdl_batch_all_same_label_no_negatives", std::vector<int64_t>(7, 5), "batch", false, false},
      {"sbdl_batch_all_different_no_positives", {0, 1, 2, 3, 4, 5}},
      {"sbdl_batch_64", classes_of(16, 4), "batch", true, true, 2.0f, 0.5f, EmbKind::Random, 16, 12},
      {"sbdl_image_wise", triplet_labels, "image", true, true, 3.0f, 0.3f},
      {"sbdl_image_wise_sgs_grad_off", triplet_labels, "image", true, false, 3.0f, 0.3f},
      {"bdl_image_wise", triplet_labels, "image", false, false, 3.0f, 0.3f},
      // s = +1 within a class and -1 across: every pair is far on the right side (tiny losses, no underflow to
      // NaN); alpha 40 keeps the tiny values inside float range so they are compared, not just both zero.
      {"sbdl_extreme_correct_alpha40", {0, 1, 0, 1, 0, 1, 0, 1}, "batch", true, true, 40.0f, 0.5f,
       EmbKind::ClassSigns},
      // s = +-1 regardless of class: half of the pairs saturate on the wrong side (softplus ~ 1000 |z|, sigmoid 1).
      {"sbdl_extreme_saturated_alpha1000", {0, 0, 0, 0, 1, 1, 1, 1}, "batch", true, true, 1000.0f, 0.5f,
       EmbKind::AlternatingSigns},
      {"bdl_extreme_saturated_alpha1000", {0, 0, 0, 0, 1, 1, 1, 1}, "batch", false, false, 1000.0f, 0.5f,
       EmbKind::AlternatingSigns},
      {"sbdl_image_wise_extreme_alpha500", std::vector<int64_t>(9, 0), "image", true, true, 500.0f, 0.0f,
       EmbKind::AlternatingSigns},
  };
  return cases;
}

Tensor make_embeddings(const MetricCase& c, unsigned seed) {
  const int n = static_cast<int>(c.labels.size());
  Tensor emb = test::random_tensor({n, c.d}, seed);
  if (c.emb == EmbKind::Random) return emb;
  // Every row a signed copy of row 0, so every cosine similarity is exactly +1 or -1.
  float* e = emb.data();
  for (int r = 0; r < n; ++r) {
    const float sign = c.emb == EmbKind::ClassSigns ? (c.labels[r] % 2 ? -1.0f : 1.0f) : (r % 2 ? -1.0f : 1.0f);
    for (int k = 0; k < c.d; ++k) e[r * c.d + k] = sign * e[k];
  }
  return emb;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({static_cast<int64_t>(labels.size())}, Device::cpu(), DType::I64);
  for (size_t r = 0; r < labels.size(); ++r) t.data_i64()[r] = labels[r];
  return t;
}

PairList pairs_for(const MetricCase& c) {
  return c.sampling == "batch" ? batch_pairs(c.labels) : triplet_pairs(static_cast<int64_t>(c.labels.size()));
}

// The largest relative error of the current case, printed per case so that the margin is visible in the log.
double g_worst_error = 0.0;

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  const double err = test::relative_error(got, want);
  g_worst_error = std::max(g_worst_error, err);
  EXPECT_LT(err, kTolerance) << what << ": relative error " << err;
}

// One call of the reference script computes every case (importing torch costs seconds).
TEST(MetricLossVsTorch, ValuesAndGradientsOfEveryCase) {
  const std::string dir = test::scratch_dir("metric");
  const auto cases = metric_cases();
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MetricCase& c = cases[ci];
    const int n = static_cast<int>(c.labels.size());
    TensorMap in{{"emb", make_embeddings(c, 100 + 7 * unsigned(ci))},
                 {"logits", test::random_tensor({n, c.k}, 200 + 7 * unsigned(ci), -3.0f, 3.0f)},
                 {"labels", labels_tensor(c.labels)}};
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, in);
    manifest.push_back({{"name", c.name}, {"kind", "metric"}, {"input", input},
                        {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"params", {{"alpha", c.alpha}, {"beta", c.beta}, {"sampling", c.sampling},
                                    {"loss", c.soft ? "sbdl" : "bdl"}, {"sgs_grad", c.sgs_grad}}}});
    inputs.push_back(in);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("losses_ref.py", {dir + "/manifest.json"});

  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MetricCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    g_worst_error = 0.0;
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    const int n = static_cast<int>(c.labels.size());

    // Our pair list is the reference's, element for element.
    const PairList pairs = pairs_for(c);
    const Tensor ours_packed = pairs.packed(Device::cpu());
    const Tensor& ref_pairs = ref.at("pairs");
    ASSERT_EQ(ours_packed.shape(), ref_pairs.shape());
    const int32_t* a = static_cast<const int32_t*>(ours_packed.raw_data());
    const int32_t* b = static_cast<const int32_t*>(ref_pairs.raw_data());
    EXPECT_EQ(std::vector<int32_t>(a, a + ours_packed.numel()), std::vector<int32_t>(b, b + ref_pairs.numel()));

    const Tensor G = c.soft ? ref.at("G") : Tensor();
    const MetricLossResult r = binomial_deviance_loss(ref.at("S"), G, pairs, c.alpha, c.beta, c.sgs_grad);
    const std::vector<float> terms = r.terms.to_vector(), ref_terms = ref.at("terms").to_vector();
    for (int t = 0; t < 3; ++t) {
      const char* names[] = {"L", "L_pos", "L_neg"};
      expect_close({terms[t]}, {ref_terms[t]}, names[t]);
    }
    expect_close(r.dS.to_vector(), ref.at("dS").to_vector(), "dS");
    ASSERT_EQ(r.dG.defined(), c.soft && c.sgs_grad) << "dG is produced exactly when g carries a gradient";
    if (r.dG.defined()) expect_close(r.dG.to_vector(), ref.at("dG").to_vector(), "dG");

    // (The chain back through the Gram matrix and the normalisation to the embeddings and logits is the tape's:
    // checked against torch's autograd in tests/test_objective.cpp.)
    std::printf("  %-45s L %-12.6g worst relative error %.2e\n", c.name.c_str(), terms[0], g_worst_error);
  }
}

TEST(MetricLoss, GradScaleScalesBothGradientsAndNotTheValue) {
  const int n = 9;
  const Tensor S = test::random_tensor({n, n}, 1), G = test::random_tensor({n, n}, 2, 0.0f, 1.0f);
  const PairList pairs = batch_pairs({0, 0, 0, 1, 1, 1, 2, 2, 2});
  const MetricLossResult one = binomial_deviance_loss(S, G, pairs, 2.0f, 0.5f, true, 1.0f);
  const MetricLossResult half = binomial_deviance_loss(S, G, pairs, 2.0f, 0.5f, true, 0.5f);
  EXPECT_EQ(one.terms.to_vector(), half.terms.to_vector());
  std::vector<float> dS = one.dS.to_vector(), dG = one.dG.to_vector();
  for (float& x : dS) x *= 0.5f;
  for (float& x : dG) x *= 0.5f;
  EXPECT_EQ(half.dS.to_vector(), dS);
  EXPECT_EQ(half.dG.to_vector(), dG);
}

TEST(MetricLoss, RejectsBadShapesAndPairs) {
  const Tensor S = test::random_tensor({4, 4}, 3);
  const PairList pairs = batch_pairs({0, 0, 1, 1});
  const Tensor rectangle = test::random_tensor({4, 3}, 4), wrong_g = test::random_tensor({3, 3}, 5);
  const Tensor small = test::random_tensor({3, 3}, 6);
  const std::string not_square =
      test::error_of([&] { binomial_deviance_loss(rectangle, Tensor(), pairs, 2.0f, 0.5f); });
  EXPECT_NE(not_square.find("binomial_deviance_loss needs S (N, N), got [4, 3]"), std::string::npos) << not_square;
  const std::string g_shape = test::error_of([&] { binomial_deviance_loss(S, wrong_g, pairs, 2.0f, 0.5f); });
  EXPECT_NE(g_shape.find("binomial_deviance_loss G: expected shape [4, 4], got [3, 3]"), std::string::npos) << g_shape;
  // Pairs of a batch of 4 on a batch of 3: the first pair that reaches image 3 is named.
  const std::string small_batch = test::error_of([&] { binomial_deviance_loss(small, Tensor(), pairs, 2.0f, 0.5f); });
  EXPECT_NE(small_batch.find("pair 2 (0, 3) outside a batch of 3"), std::string::npos) << small_batch;
}

// ---------------------------------------------------------------- BCE vs torch

struct BceCase {
  std::string name;
  int n, k;
  float lo, hi;     // logits uniform in [lo, hi)
  bool extreme;     // logits set to +-100 and 0 in a pattern covering every (sign, target) combination
  float scale;
};

TEST(BceVsTorch, ValueAndGradientOfEveryCase) {
  const std::string dir = test::scratch_dir("bce");
  const std::vector<BceCase> cases = {
      {"bce_random", 6, 11, -4.0f, 4.0f, false, 1.0f},
      {"bce_batch1_scaled", 1, 7, -2.0f, 2.0f, false, 0.7f},
      {"bce_wide_logits", 5, 40, -30.0f, 30.0f, false, 1.0f},
      {"bce_extreme_pm100", 4, 9, 0.0f, 0.0f, true, 1.0f},
  };
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const BceCase& c = cases[ci];
    Tensor logits = test::random_tensor({c.n, c.k}, 300 + unsigned(ci), c.lo, c.hi);
    Tensor targets = test::random_tensor({c.n, c.k}, 400 + unsigned(ci), 0.0f, 1.0f);
    float* tp = targets.data();
    float* lp = logits.data();
    for (int64_t e = 0; e < targets.numel(); ++e) {
      tp[e] = tp[e] < 0.5f ? 0.0f : 1.0f;
      if (c.extreme) {
        lp[e] = (e % 3 == 0) ? 100.0f : (e % 3 == 1) ? -100.0f : 0.0f;
        tp[e] = static_cast<float>((e / 3) % 2);  // each logit meets both targets
      }
    }
    TensorMap in{{"logits", logits}, {"targets", targets}};
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, in);
    manifest.push_back({{"name", c.name}, {"kind", "bce"}, {"input", input},
                        {"output", dir + "/" + c.name + "_ref.safetensors"}, {"params", {{"scale", c.scale}}}});
    inputs.push_back(in);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("losses_ref.py", {dir + "/manifest.json"});
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const BceCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    g_worst_error = 0.0;
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    const BceResult r = bce_with_logits(inputs[ci].at("logits"), inputs[ci].at("targets"), c.scale);
    expect_close(r.value.to_vector(), ref.at("value").to_vector(), "value");
    expect_close(r.dlogits.to_vector(), ref.at("dlogits").to_vector(), "dlogits");
    std::printf("  %-45s value %-12.6g worst relative error %.2e\n", c.name.c_str(), r.value.item(), g_worst_error);
  }
}

// ---------------------------------------------------------------- CUDA twins vs CPU

void expect_cuda_matches_cpu(const Tensor& gpu, const Tensor& cpu, const char* what, double tolerance = 1e-5) {
  ASSERT_EQ(gpu.defined(), cpu.defined()) << what;
  if (!cpu.defined()) return;
  SGML_ASSERT_ON_GPU(gpu) << what;
  const double err = test::relative_error(gpu.to(Device::cpu()), cpu);
  EXPECT_LT(err, tolerance) << what << ": CUDA vs CPU relative error " << err;
}

TEST(MetricLossCuda, MatchesCpuAndIsDeterministic) {
  SGML_SKIP_WITHOUT_GPU();
  struct Case {
    int classes, per_class;
    bool image_wise, soft, grad_g;
    float alpha, beta;
  };
  // 164 = the paper's batch-wise batch (41 classes x 4): 13366 pairs, many reduction blocks.
  for (const Case& c : {Case{41, 4, false, true, true, 2.0f, 0.5f}, Case{41, 4, false, true, false, 2.0f, 0.5f},
                        Case{41, 4, false, false, false, 2.0f, 0.5f}, Case{60, 3, true, true, true, 3.0f, 0.3f},
                        Case{1, 9, false, true, true, 1000.0f, 0.5f}, Case{3, 1, false, true, true, 2.0f, 0.5f}}) {
    const std::vector<int64_t> labels = classes_of(c.classes, c.per_class);
    const int n = static_cast<int>(labels.size());
    SCOPED_TRACE(testing::Message() << "n " << n << (c.image_wise ? " image-wise" : " batch-wise") << " soft "
                                    << c.soft << " grad_g " << c.grad_g << " alpha " << c.alpha);
    const PairList pairs = c.image_wise ? triplet_pairs(n) : batch_pairs(labels);
    const Tensor S = test::random_tensor({n, n}, 11 + n), G = test::random_tensor({n, n}, 12 + n, 0.0f, 1.0f);
    const Tensor Gc = c.soft ? G : Tensor();
    const Tensor Gd = c.soft ? G.to(test::gpu()) : Tensor();
    const MetricLossResult cpu = binomial_deviance_loss(S, Gc, pairs, c.alpha, c.beta, c.grad_g);
    const MetricLossResult gpu = binomial_deviance_loss(S.to(test::gpu()), Gd, pairs, c.alpha, c.beta, c.grad_g);
    expect_cuda_matches_cpu(gpu.terms, cpu.terms, "terms");
    expect_cuda_matches_cpu(gpu.dS, cpu.dS, "dS");
    expect_cuda_matches_cpu(gpu.dG, cpu.dG, "dG");
    const MetricLossResult again = binomial_deviance_loss(S.to(test::gpu()), Gd, pairs, c.alpha, c.beta, c.grad_g);
    EXPECT_EQ(again.terms.to_vector(), gpu.terms.to_vector()) << "the CUDA reduction must be bitwise reproducible";
  }
}

TEST(BceCuda, MatchesCpuAndIsDeterministic) {
  SGML_SKIP_WITHOUT_GPU();
  // 164 x 463: the DeepFashion attribute head on the paper's batch, and one extreme case.
  for (float range : {4.0f, 100.0f}) {
    SCOPED_TRACE(testing::Message() << "logits in +-" << range);
    const Tensor logits = test::random_tensor({164, 463}, 21, -range, range);
    Tensor targets = test::random_tensor({164, 463}, 22, 0.0f, 1.0f);
    for (int64_t e = 0; e < targets.numel(); ++e) targets.data()[e] = targets.data()[e] < 0.3f ? 1.0f : 0.0f;
    const BceResult cpu = bce_with_logits(logits, targets, 0.5f);
    const BceResult gpu = bce_with_logits(logits.to(test::gpu()), targets.to(test::gpu()), 0.5f);
    expect_cuda_matches_cpu(gpu.value, cpu.value, "value");
    expect_cuda_matches_cpu(gpu.dlogits, cpu.dlogits, "dlogits");
    const BceResult again = bce_with_logits(logits.to(test::gpu()), targets.to(test::gpu()), 0.5f);
    EXPECT_EQ(again.value.to_vector(), gpu.value.to_vector()) << "the CUDA reduction must be bitwise reproducible";
  }
}

}  // namespace
