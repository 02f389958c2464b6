// The margin loss and its samplers (losses/margin_loss.h) against PyTorch in float64
// (tests/reference/margin_loss_ref.py): the nearest sampler's negatives must match exactly, the distance sampler's
// given the same uniform draws; weights, loss terms, dS and dbeta within relative error 1e-5 (float32 against
// float64). Then the statistics of the distance sampler, argument checks, and the CUDA twins against the CPU ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "losses/margin_loss.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

constexpr double kTolerance = 1e-5;

enum class EmbKind {
  Random,         // uniform directions: distances near sqrt(2) in high dimension
  NearbyClasses,  // every class centre close to one direction: many negatives at D < 0.5
  Duplicates,     // rows 1 = 0 and 4 = 2 (different classes): exact distance ties and a positive at D ~ 0
  // Row r = cos(t_r) e_0 + sin(t_r) e_(r+1), t_r spread over [0.3, 1.2]: distances from 0.4 to 1.3, all below the
  // cutoff, whose weights at 512 dimensions span hundreds of orders of magnitude (float32's exp gives 0).
  Graded,
};

struct MarginCase {
  std::string name;
  std::vector<int64_t> labels;
  NegativeSampler sampler = NegativeSampler::Distance;
  int dim = 16;
  float margin = 0.2f;
  std::vector<float> beta;  // per anchor; empty: 1.2 for all
  EmbKind emb = EmbKind::Random;
};

std::vector<int64_t> classes_of(int classes, int per_class) {
  std::vector<int64_t> labels;
  for (int c = 0; c < classes; ++c)
    for (int m = 0; m < per_class; ++m) labels.push_back(c);
  return labels;
}

std::vector<MarginCase> margin_cases() {
  const NegativeSampler kNear = NegativeSampler::Nearest, kDistinct = NegativeSampler::DistanceDistinct;
  std::vector<int64_t> odd = classes_of(4, 3);
  odd.push_back(42);  // a class of one image: an anchor without positives, still a negative for the others
  std::vector<float> varied;
  for (int i = 0; i < 12; ++i) varied.push_back(0.6f + 0.1f * float(i % 7));
  return {
      {"distance_8x4_dim128", classes_of(8, 4), NegativeSampler::Distance, 128},
      {"nearest_8x4_dim128", classes_of(8, 4), kNear, 128},
      {"distance_nearby_dim8", classes_of(5, 3), NegativeSampler::Distance, 8, 0.2f, {}, EmbKind::NearbyClasses},
      {"nearest_nearby_dim8", classes_of(5, 3), kNear, 8, 0.2f, {}, EmbKind::NearbyClasses},
      {"distance_dim3", classes_of(4, 3), NegativeSampler::Distance, 3, 0.2f, {}, EmbKind::NearbyClasses},
      {"distance_dim2", classes_of(4, 3), NegativeSampler::Distance, 2},
      {"distance_odd_class_of_one", odd, NegativeSampler::Distance, 16},
      {"nearest_odd_class_of_one", odd, kNear, 16},
      {"nearest_ties_duplicates", {0, 0, 1, 1, 2, 2}, kNear, 4, 0.2f, {}, EmbKind::Duplicates},
      {"distance_ties_duplicates", {0, 0, 1, 1, 2, 2}, NegativeSampler::Distance, 4, 0.2f, {}, EmbKind::Duplicates},
      {"distance_cutoff_excludes_all_uniform", classes_of(4, 3), NegativeSampler::Distance, 64, 0.1f,
       std::vector<float>(12, 0.3f)},
      {"distance_per_anchor_beta", classes_of(4, 3), NegativeSampler::Distance, 8, 0.2f, varied,
       EmbKind::NearbyClasses},
      {"nearest_margin0", classes_of(3, 4), kNear, 8, 0.0f, {}, EmbKind::NearbyClasses},
      {"one_class_no_negatives", classes_of(1, 5), NegativeSampler::Distance, 8},
      {"nearest_one_class", classes_of(1, 5), kNear, 8},
      {"all_different_no_triplets", {0, 1, 2, 3}, NegativeSampler::Distance, 8},
      {"batch_of_1", {3}, kNear, 8},
      {"large_labels", {int64_t(1) << 40, 7, int64_t(1) << 40, 7, -3, -3}, NegativeSampler::Distance, 8},
      // Without replacement: 3 draws per anchor among many candidates; more draws than negatives, so the row runs
      // out and is put back; none within the cutoff (uniform).
      {"distinct_8x4_dim128", classes_of(8, 4), kDistinct, 128},
      {"distinct_nearby_dim8", classes_of(5, 3), kDistinct, 8, 0.2f, {}, EmbKind::NearbyClasses},
      {"distinct_runs_out_dim16", {0, 0, 0, 0, 0, 1, 1}, kDistinct, 16},  // class 0: 4 draws, 2 negatives
      {"distinct_cutoff_excludes_all_uniform", classes_of(3, 5), kDistinct, 64, 0.1f, std::vector<float>(15, 0.3f)},
      {"distinct_odd_class_of_one", odd, kDistinct, 16},
      // 3 draws per anchor where all but the nearest negatives weigh less than float32's exp can hold.
      {"distinct_graded_dim512", classes_of(4, 4), kDistinct, 512, 0.2f, {}, EmbKind::Graded},
      {"distance_graded_dim512", classes_of(4, 4), NegativeSampler::Distance, 512, 0.2f, {}, EmbKind::Graded},
  };
}

// S = E E^T of L2-normalised rows (B, dim), computed in double and rounded once.
Tensor make_similarities(const MarginCase& c, unsigned seed) {
  const int n = static_cast<int>(c.labels.size()), dim = c.dim;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> common(dim), E(size_t(n) * dim);
  for (double& x : common) x = u(rng);
  std::map<int64_t, std::vector<double>> centre;  // NearbyClasses: one per class, near `common`
  for (int r = 0; r < n; ++r) {
    if (c.emb == EmbKind::NearbyClasses && !centre.count(c.labels[r])) {
      std::vector<double> v(dim);
      for (int k = 0; k < dim; ++k) v[k] = common[k] + 0.25 * u(rng);
      centre[c.labels[r]] = v;
    }
    for (int k = 0; k < dim; ++k)
      E[size_t(r) * dim + k] = c.emb == EmbKind::NearbyClasses ? centre[c.labels[r]][k] + 0.08 * u(rng) : u(rng);
    if (c.emb == EmbKind::Graded) {
      const double t = 0.3 + 0.9 * double((r * 7) % n) / double(std::max(n - 1, 1));
      for (int k = 0; k < dim; ++k) E[size_t(r) * dim + k] = 0.0;
      E[size_t(r) * dim] = std::cos(t);
      if (r + 1 < dim) E[size_t(r) * dim + r + 1] = std::sin(t);
    }
  }
  if (c.emb == EmbKind::Duplicates) {
    for (int k = 0; k < dim; ++k) {
      E[size_t(1) * dim + k] = E[k];
      E[size_t(4) * dim + k] = E[size_t(2) * dim + k];
    }
  }
  for (int r = 0; r < n; ++r) {
    double norm = 0.0;
    for (int k = 0; k < dim; ++k) norm += E[size_t(r) * dim + k] * E[size_t(r) * dim + k];
    for (int k = 0; k < dim; ++k) E[size_t(r) * dim + k] /= std::sqrt(norm);
  }
  Tensor S = Tensor::empty({n, n});
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double dot = 0.0;
      for (int k = 0; k < dim; ++k) dot += E[size_t(i) * dim + k] * E[size_t(j) * dim + k];
      S.data()[i * n + j] = float(dot);
    }
  return S;
}

Tensor beta_of(const MarginCase& c) {
  const std::vector<float> b = c.beta.empty() ? std::vector<float>(c.labels.size(), 1.2f) : c.beta;
  return Tensor::from_vector(b, {static_cast<int64_t>(b.size())});
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({static_cast<int64_t>(labels.size())}, Device::cpu(), DType::I64);
  for (size_t r = 0; r < labels.size(); ++r) t.data_i64()[r] = labels[r];
  return t;
}

double expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  double ref_norm = 0.0;
  for (float v : want) ref_norm += double(v) * v;
  if (ref_norm == 0.0) {
    for (float v : got) EXPECT_EQ(v, 0.0f) << what;
    return 0.0;
  }
  const double err = test::relative_error(got, want);
  EXPECT_LT(err, kTolerance) << what << ": relative error " << err;
  return err;
}

TEST(MarginLossVsTorch, SamplesValuesAndGradientsOfEveryCase) {
  SGML_SKIP_WITHOUT_TORCH();
  const std::string dir = test::scratch_dir("margin_loss");
  const auto cases = margin_cases();
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<Tensor> similarities;
  std::vector<std::vector<float>> draws;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MarginCase& c = cases[ci];
    const Tensor S = make_similarities(c, 900 + 11 * unsigned(ci));
    const int64_t triplets = margin_triplet_count(c.labels);
    draws.push_back(margin_uniform_draws(77 + ci, triplets));
    TensorMap input{{"S", S}, {"labels", labels_tensor(c.labels)}, {"beta", beta_of(c)}};
    if (triplets > 0) input["uniforms"] = Tensor::from_vector(draws.back(), {triplets});
    const std::string in = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(in, input);
    manifest.push_back({{"name", c.name}, {"input", in}, {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"margin", c.margin}, {"dim", c.dim}, {"sampler", negative_sampler_name(c.sampler)},
                        {"draw_seed", 77 + ci}});
    similarities.push_back(S);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("margin_loss_ref.py", {dir + "/manifest.json"});

  double worst = 0.0;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const MarginCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    const MarginLossConfig config{c.margin, c.sampler, c.dim};
    const MarginLossResult r = margin_loss(similarities[ci], c.labels, beta_of(c), config, draws[ci]);
    ASSERT_EQ(int64_t(r.negatives.size()), margin_triplet_count(c.labels));
    if (!r.negatives.empty()) {
      const Tensor& ref_neg = ref.at("negatives");
      const float* fragile = ref.at("fragile").data();
      ASSERT_EQ(ref_neg.numel(), int64_t(r.negatives.size()));
      EXPECT_EQ(ref.at("draws").to_vector(), draws[ci]) << "the generator, written again in Python";
      size_t fragile_draws = 0;
      for (size_t t = 0; t < r.negatives.size(); ++t) {
        // A draw within 1e-5 of a cumulative boundary may flip between float32 and float64: none was seen, but
        // say so rather than fail obscurely if one ever is.
        if (fragile[t] < 1e-5f && ++fragile_draws) continue;
        EXPECT_EQ(r.negatives[t], ref_neg.data_i64()[t]) << "triplet " << t << " (anchor " << r.anchors[t] << ")";
      }
      EXPECT_LE(fragile_draws * 100, r.negatives.size()) << "draws too close to a boundary to compare";
    }
    double err = 0.0;
    const std::vector<float> terms = r.terms.to_vector(), ref_terms = ref.at("terms").to_vector();
    const char* names[] = {"L", "L_pos", "L_neg", "count"};
    for (int t = 0; t < 4; ++t) err = std::max(err, expect_close({terms[t]}, {ref_terms[t]}, names[t]));
    err = std::max(err, expect_close(r.dS.to_vector(), ref.at("dS").to_vector(), "dS"));
    err = std::max(err, expect_close(r.dbeta.to_vector(), ref.at("dbeta").to_vector(), "dbeta"));
    const Tensor W = margin_negative_weights(similarities[ci], c.labels, beta_of(c), config);
    err = std::max(err, expect_close(W.to_vector(), ref.at("W").to_vector(), "W"));
    worst = std::max(worst, err);
    std::printf("  %-40s L %-11.6g count %-4g worst relative error %.2e\n", c.name.c_str(), terms[0], terms[3], err);
  }
  std::printf("  worst relative error over all cases %.2e\n", worst);
}

// The distance sampler's draws follow its weights: 200000 draws from each of three anchors' rows; every negative's
// frequency within 5 standard deviations of its weight (sqrt(p (1 - p) / N)), and Pearson's chi-square below the
// 0.999 quantile of its distribution (Wilson-Hilferty approximation). Seeded: the outcome is fixed.
TEST(MarginSampler, DistanceDrawsFollowTheWeights) {
  const MarginCase c{"stat", classes_of(10, 4), NegativeSampler::Distance, 8, 0.2f, {}, EmbKind::NearbyClasses};
  const Tensor S = make_similarities(c, 4242);
  const int n = static_cast<int>(c.labels.size());
  const Tensor W = margin_negative_weights(S, c.labels, beta_of(c), MarginLossConfig{0.2f, c.sampler, c.dim});
  constexpr int kDraws = 200000;
  const std::vector<float> u = margin_uniform_draws(2026, kDraws);
  for (int row : {0, 17, 39}) {
    SCOPED_TRACE(testing::Message() << "anchor " << row);
    const std::vector<int32_t> rows(kDraws, row);
    std::vector<int32_t> chosen(kDraws);
    cpu::margin_sample_negatives(chosen.data(), W.data(), rows.data(), u.data(), kDraws, n);
    std::vector<int> hits(n, 0);
    for (int32_t k : chosen) ++hits[k];
    double chi2 = 0.0;
    int cells = 0;
    for (int k = 0; k < n; ++k) {
      const double p = W.data()[row * n + k];
      if (p == 0.0) {
        EXPECT_EQ(hits[k], 0) << "column " << k << " has weight 0";
        continue;
      }
      const double expected = p * kDraws, sd = std::sqrt(kDraws * p * (1.0 - p));
      EXPECT_LT(std::fabs(hits[k] - expected), 5.0 * sd + 1.0) << "column " << k << " p " << p;
      chi2 += (hits[k] - expected) * (hits[k] - expected) / expected;
      ++cells;
    }
    ASSERT_GT(cells, 5) << "the case must spread weight over several negatives";
    const double dof = cells - 1, z999 = 3.0902;
    const double quantile = dof * std::pow(1.0 - 2.0 / (9 * dof) + z999 * std::sqrt(2.0 / (9 * dof)), 3);
    EXPECT_LT(chi2, quantile) << cells << " cells";
    std::printf("  anchor %d: %d negatives drawn, chi-square %.1f (0.999 quantile %.1f)\n", row, cells, chi2, quantile);
  }
}

TEST(MarginLoss, ScalesOnlyTheGradientAndDrawsDeterministically) {
  const MarginCase c{"scale", classes_of(4, 3), NegativeSampler::Distance, 8, 0.2f, {}, EmbKind::NearbyClasses};
  const Tensor S = make_similarities(c, 5);
  const std::vector<float> u = margin_uniform_draws(9, margin_triplet_count(c.labels));
  EXPECT_EQ(u, margin_uniform_draws(9, margin_triplet_count(c.labels)));
  EXPECT_NE(u, margin_uniform_draws(10, margin_triplet_count(c.labels)));
  const MarginLossConfig config{0.2f, c.sampler, c.dim};
  const MarginLossResult one = margin_loss(S, c.labels, beta_of(c), config, u, 1.0f);
  const MarginLossResult half = margin_loss(S, c.labels, beta_of(c), config, u, 0.5f);
  EXPECT_EQ(one.terms.to_vector(), half.terms.to_vector());
  EXPECT_EQ(one.negatives, half.negatives);
  std::vector<float> dS = one.dS.to_vector();
  for (float& x : dS) x *= 0.5f;  // a power of two: exact
  EXPECT_EQ(half.dS.to_vector(), dS);
}

TEST(MarginLoss, RejectsBadArgumentsNamingThem) {
  const std::vector<int64_t> labels{0, 0, 1, 1};
  const Tensor S = make_similarities({"bad", labels}, 3), beta = Tensor::from_vector({1.2f, 1.2f, 1.2f, 1.2f}, {4});
  const std::vector<float> u(4, 0.5f);
  const MarginLossConfig ok{0.2f, NegativeSampler::Distance, 8};
  EXPECT_THROW(margin_loss(test::random_tensor({4, 3}, 4), labels, beta, ok, u), Error);
  EXPECT_THROW(margin_loss(S, {0, 0, 1}, beta, ok, u), Error);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, Tensor::from_vector({1.f}, {1}), ok, u); }).find("beta"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, beta, ok, {0.5f}); }).find("uniform"), std::string::npos);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, beta, ok, {0.5f, 0.5f, 1.0f, 0.5f}); }).find("[0, 1)"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, beta, {-0.1f, ok.sampler, 8}, u); }).find("margin"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, beta, {NAN, ok.sampler, 8}, u); }).find("margin"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { margin_loss(S, labels, beta, {0.2f, ok.sampler, 1}, u); }).find("dimension"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { parse_negative_sampler("semihard"); }).find("distance, distance-distinct or nearest"),
            std::string::npos);
}

// distance-distinct: an anchor's draws are distinct while it has candidates left (here 3 draws among 70 or more),
// and its first draw is the with-replacement sampler's at the same u (nothing is excluded yet).
TEST(MarginSampler, DistinctDrawsRepeatNoNegativeOfAnAnchor) {
  const MarginCase c{"distinct", classes_of(20, 4), NegativeSampler::DistanceDistinct, 128};
  const Tensor S = make_similarities(c, 5), beta = beta_of(c);
  const std::vector<float> u = margin_uniform_draws(9, margin_triplet_count(c.labels));
  const MarginLossResult distinct = margin_loss(S, c.labels, beta, {0.2f, c.sampler, c.dim}, u);
  const MarginLossResult plain = margin_loss(S, c.labels, beta, {0.2f, NegativeSampler::Distance, c.dim}, u);
  ASSERT_EQ(distinct.anchors, plain.anchors);
  size_t repeats_with_replacement = 0;
  for (size_t t = 0; t < distinct.anchors.size(); t += 3) {
    const int i = distinct.anchors[t];
    ASSERT_EQ(distinct.anchors[t + 2], i) << "3 positives per anchor";
    std::set<int32_t> mine(distinct.negatives.begin() + long(t), distinct.negatives.begin() + long(t) + 3);
    EXPECT_EQ(mine.size(), 3u) << "anchor " << i;
    for (int32_t k : mine) EXPECT_NE(c.labels[size_t(k)], c.labels[size_t(i)]) << "a negative";
    EXPECT_EQ(distinct.negatives[t], plain.negatives[t]) << "anchor " << i << ": the first draw";
    const std::set<int32_t> theirs(plain.negatives.begin() + long(t), plain.negatives.begin() + long(t) + 3);
    repeats_with_replacement += theirs.size() < 3;
  }
  // The point of the option: at d = 128 the weights are peaked, so with replacement anchors repeat a negative.
  EXPECT_GT(repeats_with_replacement, 0u);
}

// Moves each draw of the distance sampler that lies within `margin` (a share of the row's total) of a boundary of
// its row's cumulative weights W (B, B) to the middle of the negative's cell it falls in. The twins' weights differ
// in the last float bits (margin_loss.h), so a draw on a boundary may pick either neighbour; moved, it picks the
// same negative on both unless the weights differ by far more than rounding. Returns how many draws moved.
// With `drawn` (distance-distinct: the negatives the CPU drew, triplets grouped by anchor), each draw's row leaves
// out the anchor's earlier negatives as the sampler does, all put back once every candidate is drawn.
int move_draws_off_boundaries(std::vector<float>& uniforms, const Tensor& W, const std::vector<int32_t>& anchors,
                              double margin, const std::vector<int32_t>* drawn = nullptr) {
  const int64_t n = W.dim(1);
  const float* w = W.data();
  int moved = 0;
  std::vector<char> taken(size_t(n), 0);
  for (size_t t = 0; t < anchors.size(); ++t) {
    const float* row = w + int64_t(anchors[t]) * n;
    if (drawn && (t == 0 || anchors[t] != anchors[t - 1])) std::fill(taken.begin(), taken.end(), 0);
    const auto live = [&](int64_t k) { return row[k] > 0.0f && !taken[size_t(k)]; };
    double total = 0.0;
    for (int64_t k = 0; k < n; ++k) total += live(k) ? double(row[k]) : 0.0;
    if (drawn && total <= 0.0) {  // every candidate drawn: put back
      std::fill(taken.begin(), taken.end(), 0);
      for (int64_t k = 0; k < n; ++k) total += live(k) ? double(row[k]) : 0.0;
    }
    if (drawn && (*drawn)[t] >= 0) taken[size_t((*drawn)[t])] = 1;
    if (total <= 0.0) continue;  // no negative: the draw is not used
    const double target = double(uniforms[t]) * total;
    double below = 0.0;
    for (int64_t k = 0; k < n; ++k) {
      if (!live(k)) continue;
      const double above = below + double(row[k]);
      if (target < above || above >= total) {
        if (std::min(target - below, above - target) < margin * total) {
          uniforms[t] = float(0.5 * (below + above) / total);
          ++moved;
        }
        break;
      }
      below = above;
    }
  }
  return moved;
}

// The CUDA twins were written on a machine without a GPU: this test is what checks them on one.
TEST(MarginLossCuda, MatchesCpuAndIsDeterministic) {
  SGML_SKIP_WITHOUT_GPU();
  std::vector<int64_t> with_single = classes_of(10, 3);
  with_single.push_back(77);
  const std::vector<MarginCase> cases{
      {"80", classes_of(20, 4), NegativeSampler::Distance, 128},
      {"80n", classes_of(20, 4), NegativeSampler::Nearest, 128},
      {"164", classes_of(41, 4), NegativeSampler::Distance, 32, 0.2f, {}, EmbKind::NearbyClasses},
      {"300n", classes_of(100, 3), NegativeSampler::Nearest, 16, 0.2f, {}, EmbKind::NearbyClasses},
      {"single", with_single, NegativeSampler::Distance, 8},
      {"one_class", classes_of(1, 6), NegativeSampler::Nearest, 8},
      {"tiny", {0, 1}, NegativeSampler::Distance, 8},
      {"80d", classes_of(20, 4), NegativeSampler::DistanceDistinct, 128},
      {"7d_runs_out", {0, 0, 0, 0, 0, 1, 1}, NegativeSampler::DistanceDistinct, 16},
      {"16d_graded_dim512", classes_of(4, 4), NegativeSampler::DistanceDistinct, 512, 0.2f, {}, EmbKind::Graded},
  };
  for (const MarginCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Tensor S = make_similarities(c, 31), beta = beta_of(c);
    std::vector<float> u = margin_uniform_draws(5, margin_triplet_count(c.labels));
    const MarginLossConfig config{c.margin, c.sampler, c.dim};
    const Tensor W_cpu = margin_negative_weights(S, c.labels, beta, config);
    if (draws_uniforms(c.sampler)) {
      const MarginLossResult before = margin_loss(S, c.labels, beta, config, u);
      const bool distinct = c.sampler == NegativeSampler::DistanceDistinct;
      const int moved =
          move_draws_off_boundaries(u, W_cpu, before.anchors, 1e-4, distinct ? &before.negatives : nullptr);
      EXPECT_LE(moved * 20, int(u.size())) << "most draws lie away from every boundary";
      EXPECT_EQ(margin_loss(S, c.labels, beta, config, u).negatives, before.negatives)
          << "a draw moved within its cell keeps its negative";
    }
    const MarginLossResult cpu = margin_loss(S, c.labels, beta, config, u, 0.75f);
    const Device gpu_device = test::gpu();
    const MarginLossResult gpu = margin_loss(S.to(gpu_device), c.labels, beta.to(gpu_device), config, u, 0.75f);
    SGML_ASSERT_ON_GPU(gpu.dS);
    EXPECT_EQ(gpu.negatives, cpu.negatives) << "the same draws (none on a boundary) give the same negatives";
    EXPECT_LT(test::relative_error(gpu.terms.to(Device::cpu()), cpu.terms), 1e-5) << "terms";
    EXPECT_LT(test::relative_error(gpu.dS.to(Device::cpu()), cpu.dS), 1e-5) << "dS";
    EXPECT_LT(test::relative_error(gpu.dbeta.to(Device::cpu()), cpu.dbeta), 1e-5) << "dbeta";
    const Tensor W_gpu = margin_negative_weights(S.to(gpu_device), c.labels, beta.to(gpu_device), config);
    EXPECT_LT(test::relative_error(W_gpu.to(Device::cpu()), W_cpu), 1e-5) << "W";
    const MarginLossResult again = margin_loss(S.to(gpu_device), c.labels, beta.to(gpu_device), config, u, 0.75f);
    EXPECT_EQ(again.terms.to_vector(), gpu.terms.to_vector()) << "bitwise reproducible";
    EXPECT_EQ(again.dS.to_vector(), gpu.dS.to_vector()) << "bitwise reproducible";
  }
}

}  // namespace
