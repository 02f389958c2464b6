// The SGML objective on the tape (losses/sgml_objective) against PyTorch autograd: the value and the gradients
// with respect to the raw embeddings and attribute logits, i.e. the loss kernels chained through L2 normalisation,
// sigmoid and the similarity products, for the four loss modes of the paper, the two rank modes (our
// reconstruction, losses/rank_loss.h) and the margin loss with both samplers, both samplings and --sgs-grad on and
// off.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "losses/sgml_objective.h"
#include "training/train_config.h"  // loss_mode_name, sampling_name
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

struct ObjectiveCase {
  std::string name;
  LossMode mode;
  Sampling sampling;
  float alpha, beta, lambda;
  bool sgs_grad;
  std::vector<int64_t> labels;
  float rank_tau = 0.05f, rank_rho = 0.2f;
  NegativeSampler sampler = NegativeSampler::Distance;
  float margin = 0.2f, margin_beta = 1.2f;
  std::vector<float> class_beta;  // learned margin boundaries, one per class (empty: the fixed margin_beta)
  int learners = 1, learner = -1;  // Divide & Conquer's slices (16 columns: 3 learners of 6, 6 and 4)
  float beta_nu = 0.0f;            // L1 penalty on the learned boundaries
  // D&C's learned masks (the follow-up): masks_rows masks of the 16 columns (0: none), the term's weight, and the
  // learners in use (0: all).
  int masks_rows = 0;
  float mask_lambda = 0.0f;
  int active_learners = 0;
};

std::vector<ObjectiveCase> objective_cases() {
  const std::vector<int64_t> batch{0, 0, 1, 1, 2, 2, 2, 3};  // includes a class of one image (3)
  const std::vector<int64_t> triplets{0, 0, 1, 2, 2, 0, 1, 1, 3};
  return {
      {"sgml_batch", LossMode::Sgml, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch},
      {"sgml_batch_sgs_off", LossMode::Sgml, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, false, batch},
      {"sgml_image", LossMode::Sgml, Sampling::ImageWise, 3.0f, 0.1f, 0.5f, true, triplets},
      {"multitask_batch", LossMode::Multitask, Sampling::BatchWise, 2.5f, 0.3f, 2.0f, true, batch},
      {"metric_image", LossMode::Metric, Sampling::ImageWise, 2.0f, 0.5f, 1.0f, true, triplets},
      {"attribute_batch", LossMode::Attribute, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch},
      {"sgml_all_same_label", LossMode::Sgml, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, {4, 4, 4, 4}},
      {"sgml_extreme_alpha", LossMode::Sgml, Sampling::BatchWise, 200.0f, 0.0f, 1.0f, true, batch},
      {"rank_batch", LossMode::Rank, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch},
      {"rank_multitask_batch", LossMode::RankMultitask, Sampling::BatchWise, 2.0f, 0.5f, 0.7f, true, batch, 0.1f,
       0.3f},
      {"rank_multitask_odd7", LossMode::RankMultitask, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true,
       {0, 1, 0, 2, 1, 0, 0}, 0.02f, 0.1f},
      {"rank_all_same_label", LossMode::Rank, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, {4, 4, 4, 4, 4}},
      {"margin_nearest", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Nearest},
      {"margin_distance", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Distance, 0.3f, 0.9f},
      {"margin_learned_beta", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Distance, 0.2f, 1.2f, {1.3f, 0.9f, 1.1f, 1.25f, 0.7f}},  // class 4 is not in the batch
      {"margin_learned_beta_nu", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Nearest, 0.2f, 1.2f, {1.3f, -0.2f, 1.1f, 1.25f, 0.7f}, 1, -1, 0.05f},  // one boundary < 0
      {"dnc_learner2_of3_margin", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Distance, 0.2f, 1.2f, {}, 3, 2},
      {"dnc_full_of3_margin_nearest", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f,
       0.2f, NegativeSampler::Nearest, 0.2f, 1.2f, {}, 3, -1},
      {"dnc_learner0_of2_sgml", LossMode::Sgml, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f, 0.2f,
       NegativeSampler::Distance, 0.2f, 1.2f, {}, 2, 0},
      {"dnc_masks_learner1_of4_margin", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f,
       0.2f, NegativeSampler::Distance, 0.2f, 1.2f, {}, 4, 1, 0.0f, 4, 0.3f},
      {"dnc_masks_learner0_of_first2_nearest", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch,
       0.05f, 0.2f, NegativeSampler::Nearest, 0.2f, 1.2f, {}, 4, 0, 0.0f, 4, 0.5f, 2},
      {"dnc_masks_whole_embedding", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, batch, 0.05f,
       0.2f, NegativeSampler::Distance, 0.2f, 1.2f, {}, 4, -1, 0.0f, 4, 0.3f},
      {"margin_one_class", LossMode::Margin, Sampling::BatchWise, 2.0f, 0.5f, 1.0f, true, {4, 4, 4, 4}, 0.05f, 0.2f,
       NegativeSampler::Distance, 0.2f, 1.2f},
  };
}

TEST(Objective, MatchesPyTorchAutogradForEveryMode) {
  const std::string dir = test::scratch_dir("objective");
  const auto cases = objective_cases();
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const ObjectiveCase& c = cases[i];
    const int64_t n = c.labels.size(), k = 7;
    TensorMap in;
    in["emb"] = test::random_tensor({n, 16}, 50 + i);
    in["logits"] = test::random_tensor({n, k}, 70 + i, -3.0f, 3.0f);
    Tensor targets = test::random_tensor({n, k}, 90 + i, 0.0f, 1.0f);
    for (int64_t e = 0; e < targets.numel(); ++e) targets.data()[e] = targets.data()[e] > 0.5f ? 1.0f : 0.0f;
    in["targets"] = targets;
    std::vector<float> labels(c.labels.begin(), c.labels.end());
    in["labels"] = Tensor::from_vector(labels, {n});
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, in);
    manifest.push_back({{"input", input}, {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"mode", loss_mode_name(c.mode)}, {"sampling", sampling_name(c.sampling)},
                        {"alpha", c.alpha}, {"beta", c.beta}, {"lambda", c.lambda}, {"sgs_grad", c.sgs_grad},
                        {"rank_tau", c.rank_tau}, {"rank_rho", c.rank_rho}, {"margin", c.margin},
                        {"margin_beta", c.margin_beta}, {"sampler", negative_sampler_name(c.sampler)},
                        {"draw_seed", 1000 + i}, {"class_beta", c.class_beta},
                        {"learners", c.learners}, {"learner", c.learner}, {"beta_nu", c.beta_nu},
                        {"mask_lambda", c.mask_lambda}, {"active_learners", c.active_learners}});
    if (c.masks_rows > 0) {  // values in [-0.5, 1.5): some cut by the ReLU
      in["masks"] = test::random_tensor({c.masks_rows, 16}, 110 + i, -0.5f, 1.5f);
      manifest.back()["masks"] = in["masks"].to_vector();
    }
    inputs.push_back(in);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("objective_ref.py", {dir + "/manifest.json"});

  for (size_t i = 0; i < cases.size(); ++i) {
    const ObjectiveCase& c = cases[i];
    SCOPED_TRACE(c.name);
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    Variable emb(inputs[i].at("emb").clone(), true), logits(inputs[i].at("logits").clone(), true);
    ObjectiveConfig config{c.mode, c.sampling, c.alpha, c.beta, c.lambda, c.sgs_grad, c.rank_tau, c.rank_rho};
    config.margin = c.margin;
    config.margin_beta = c.margin_beta;
    config.sampler = c.sampler;
    config.draw_seed = 1000 + i;
    config.learners = c.learners;
    config.learner = c.learner;
    config.beta_nu = c.beta_nu;
    config.mask_lambda = c.mask_lambda;
    config.active_learners = c.active_learners;
    Variable masks;
    if (c.masks_rows > 0) masks = Variable(inputs[i].at("masks").clone(), true);
    Variable class_beta;
    if (!c.class_beta.empty())
      class_beta = Variable(Tensor::from_vector(c.class_beta, {int64_t(c.class_beta.size())}), true);
    ObjectiveResult r = sgml_objective(emb, logits, c.labels, inputs[i].at("targets"), config, class_beta, masks);
    r.total.backward();
    if (masks.defined()) {
      const Tensor& want = ref.at("dmasks");
      std::vector<float> got = masks.has_grad() ? masks.grad().to_vector() : std::vector<float>(want.numel(), 0.0f);
      if (c.learner < 0) {
        for (float v : got) EXPECT_EQ(v, 0.0f) << "the whole embedding uses no mask";
        EXPECT_EQ(r.mask_loss, 0.0);
      } else {
        const double err = test::relative_error(got, want.to_vector());
        EXPECT_LT(err, 1e-5) << "dmasks: relative error " << err;
        EXPECT_GT(r.mask_loss, 0.0);
      }
      if (c.active_learners == 2)
        for (size_t e = 32; e < got.size(); ++e) EXPECT_EQ(got[e], 0.0f) << "masks 2 and 3 are not in use yet";
    }
    if (class_beta.defined()) {
      ASSERT_TRUE(class_beta.has_grad());
      const double err = test::relative_error(class_beta.grad(), ref.at("dclass_beta"));
      EXPECT_LT(err, 1e-5) << "dclass_beta: relative error " << err;
      EXPECT_EQ(class_beta.grad().to_vector()[4], 0.0f) << "a class without images in the batch";
    }
    EXPECT_NEAR(r.loss, ref.at("loss").item(), 1e-5 * std::max(1.0, std::abs(r.loss)));
    EXPECT_NEAR(r.metric_loss, ref.at("metric").item(), 1e-5 * std::max(1.0, std::abs(r.metric_loss)));
    EXPECT_NEAR(r.bce_loss, ref.at("bce").item(), 1e-5);
    for (const auto& [name, var] : {std::pair<std::string, Variable>{"demb", emb}, {"dlogits", logits}}) {
      const Tensor& expected = ref.at(name);
      double norm = 0;
      for (float v : expected.to_vector()) norm += double(v) * v;
      if (norm == 0) {  // e.g. no gradient reaches the embeddings in attribute mode
        if (var.has_grad()) {
          for (float v : var.grad().to_vector()) ASSERT_EQ(v, 0.0f) << name;
        }
        continue;
      }
      ASSERT_TRUE(var.has_grad()) << name;
      const double err = test::relative_error(var.grad(), expected);
      EXPECT_LT(err, 1e-4) << name << ": relative error " << err;
    }
  }
}

}  // namespace
