// Step parity with an independent PyTorch implementation of SGML (tests/reference/sgml_reference.py): both start
// from the same --init file and take the same batch plan on a small generated In-shop-layout dataset (ResNet-18 at
// 64x64 on the CPU), for every loss mode and both samplings, and for the margin loss with frozen BN with each
// negative sampler (the distance sampler's draws: the reference derives them from the step as the engine does) and
// with Divide & Conquer's linear head. Every step's loss (total, metric and BCE) must agree within 1e-5 relative at
// the first step and 1e-3 after it, and so must every BN running statistic. Trainable parameters are compared by their
// update (final - init): Adam divides each element's gradient by its own running magnitude, so float32 rounding in
// cancellation-heavy gradients (BN biases: sums of thousands of terms of both signs) is amplified into a few percent
// of those elements' updates within ten steps. Measured: after one step every tensor agrees to ~1e-7; after ten,
// the worst tensor's update differs by 2.7% (BN), the whole model's by under 2%. A wrong gradient moves a tensor the
// wrong way (100%+), so each tensor's update must agree within 10% and the whole model's within 5%. A gradient wrong
// by a constant factor hardly moves the update, which Adam normalises: Adam's moments are compared too.
// Runs through the `sgml train` command, as a user would.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "models/sgml_model.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

struct ParityCase {
  std::string loss, sampling;
  bool sgs_grad = true;
  double weight_decay = 0.0;
  bool frozen_bn = false;
  std::string sampler = "nearest";  // of the margin loss
  std::string head = "sgml";
  bool learn_beta = false;  // the margin loss's per-class boundaries, in their own Adam group (--beta-lr), with
                            // the L1 penalty (--beta-nu)
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.loss << "_" << c.sampling; }

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      if (j.contains("loss")) rows.push_back(j);
    }
  return rows;
}

std::string sgml_binary() { return std::string(SGML_BINARY_DIR) + "/sgml"; }

// Adam's moments after ten steps: measured at most 9.1e-2 (sgml/image; under 6.1e-2 for the other cases) of
// float32 drift; a gradient wrong by a factor of 2 puts m 100% and v 300% off.
constexpr double kMomentTolerance = 0.3;
// The first step's losses: the same inputs and weights, only the order of float32 sums differs (measured at most
// 1.5e-6). Wrong preprocessing or a wrong batch-norm epsilon moves them by 1e-4 or more.
constexpr double kFirstStepTolerance = 1e-5;

// Adam's moments after the last step, tensor by tensor, against torch's exp_avg and exp_avg_sq (the reference's
// adam.safetensors): a gradient wrong by a constant factor (a doubled branch, a mean taken as a sum) hardly moves
// the update m / sqrt(v), which Adam normalises, but scales m by the factor and v by its square. Our moments are
// one flat buffer (run/last.safetensors), sliced by the model's layout. Returns the worst relative error.
double expect_adam_moments_match(const std::string& dir, const ParityCase& c, const TensorMap& init) {
  const TensorMap torch_moments = load_safetensors(dir + "/torch/adam.safetensors");
  const TensorMap last = load_safetensors(dir + "/run/last.safetensors");
  SgmlModelConfig mc;
  mc.arch = "resnet18";
  mc.head = c.head == "linear" ? HeadKind::Linear : HeadKind::Sgml;
  mc.num_attributes = mc.head == HeadKind::Sgml ? int(init.at("head.attr.weight").dim(0)) : 1;
  mc.embedding_dim = int(init.at("head.emb.weight").dim(0));
  if (torch_moments.count("adam_m.loss.margin_beta"))
    mc.margin_classes = int(torch_moments.at("adam_m.loss.margin_beta").numel());
  SgmlModel layout(mc);
  layout.store().flatten();
  EXPECT_EQ(layout.store().parameter_count(), last.at("optimizer.adam.m").numel()) << "the flat buffer's layout";
  double worst = 0;
  size_t compared = 0;
  for (const auto& [name, p] : layout.store().parameters()) {
    const int64_t offset = layout.store().flat_offset_of(name), n = p.value().numel();
    for (const char* moment : {"m", "v"}) {
      const std::string key = std::string("adam_") + moment + "." + name;
      if (!torch_moments.count(key)) {
        ADD_FAILURE() << key << " missing from the reference";
        continue;
      }
      const std::vector<float> want = torch_moments.at(key).to_vector();
      const float* got = last.at(std::string("optimizer.adam.") + moment).data() + offset;
      if (int64_t(want.size()) != n) {
        ADD_FAILURE() << key << ": " << want.size() << " values in the reference, " << n << " here";
        continue;
      }
      double d = 0, w = 0;
      for (int64_t e = 0; e < n; ++e) {
        d += (double(got[e]) - want[e]) * (double(got[e]) - want[e]);
        w += double(want[e]) * want[e];
      }
      ++compared;
      if (w == 0) {  // a parameter this loss does not reach: torch skips it, no moment on either side
        EXPECT_EQ(d, 0.0) << key;
        continue;
      }
      const double err = std::sqrt(d / w);
      worst = std::max(worst, err);
      EXPECT_LT(err, kMomentTolerance) << key << ": relative error of Adam's moment";
    }
  }
  EXPECT_EQ(compared, 2 * layout.store().parameters().size());
  return worst;
}

class TrainParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(TrainParity, EveryStepLossAndFinalParametersMatchPyTorch) {
  const ParityCase c = GetParam();
  const int steps = 10;
  const std::string dir = test::scratch_dir("parity"), data = dir + "/data";
  const std::string ref = "sgml_reference.py";
  test::run_reference(ref, {"make-data", data});
  test::run_reference(ref, {"make-init", "resnet18", "5", dir + "/init.safetensors", c.head});
  test::run_reference(ref, {"make-plan", data, c.sampling, std::to_string(steps), dir + "/plan.txt"});
  const double alpha = c.sampling == "batch" ? 2.0 : 3.0, beta = c.sampling == "batch" ? 0.5 : 0.1, lr = 2e-5;
  nlohmann::json cfg = {{"model", "resnet18"}, {"loss", c.loss}, {"sampling", c.sampling}, {"alpha", alpha},
                        {"beta", beta}, {"lambda", 0.7}, {"lr", lr}, {"weight_decay", c.weight_decay},
                        {"steps", steps}, {"image_size", 64}, {"sgs_grad", c.sgs_grad},
                        {"frozen_bn", c.frozen_bn}, {"rank_tau", 0.1}, {"rank_rho", 0.3}, {"margin", 0.2},
                        {"margin_beta", 1.2}, {"sampler", c.sampler}, {"head", c.head},
                        {"learn_beta", c.learn_beta}, {"beta_lr", 3e-3}, {"beta_nu", c.learn_beta ? 0.02 : 0.0}};
  std::ofstream(dir + "/config.json") << cfg.dump();
  test::run_reference(
      ref, {"train", data, dir + "/init.safetensors", dir + "/plan.txt", dir + "/config.json", dir + "/torch"});

  std::ostringstream cmd;
  cmd << sgml_binary() << " train deepfashion --data " << data << " --model resnet18 --image-size 64 --device cpu"
      << " --init " << dir << "/init.safetensors --batch-plan " << dir << "/plan.txt --augment off --steps " << steps
      << " --loss " << c.loss << " --sampling " << c.sampling << " --alpha " << alpha << " --beta " << beta
      << " --lambda 0.7 --rank-tau 0.1 --rank-rho 0.3 --margin 0.2 --margin-beta 1.2 --sampler " << c.sampler
      << " --head " << c.head << (c.learn_beta ? " --learn-beta --beta-lr 3e-3 --beta-nu 0.02" : "") << " --lr " << lr
      << " --weight-decay " << c.weight_decay << " --sgs-grad " << (c.sgs_grad ? "on" : "off")
      << (c.frozen_bn ? " --frozen-bn" : "") << " --eval-every 0 --workers 2 --out " << dir << "/run --metrics " << dir
      << "/ours.jsonl --save " << dir << "/ours_final.safetensors";
  std::string output;
  ASSERT_EQ(test::run_command(cmd.str(), &output), 0) << cmd.str() << "\n" << output;

  const auto ours = read_jsonl(dir + "/ours.jsonl"), theirs = read_jsonl(dir + "/torch/metrics.jsonl");
  ASSERT_EQ(ours.size(), size_t(steps));
  ASSERT_EQ(theirs.size(), size_t(steps));
  double worst = 0, worst_step1 = 0;
  for (int s = 0; s < steps; ++s) {
    // bce_loss: logged by both where the model has the attribute head, by neither without it (--head linear).
    ASSERT_EQ(ours[s].contains("bce_loss"), theirs[s].contains("bce_loss")) << "step " << s + 1;
    for (const char* key : {"loss", "metric_loss", "bce_loss"}) {
      if (!theirs[s].contains(key)) continue;
      const double a = ours[s][key], b = theirs[s][key];
      const double rel = std::abs(a - b) / std::max(std::abs(b), 1e-6);
      worst = std::max(worst, rel);
      if (s == 0) worst_step1 = std::max(worst_step1, rel);
      if (s == 0) EXPECT_LT(rel, kFirstStepTolerance) << "step 1 " << key << ": ours " << a << ", torch " << b;
      EXPECT_LT(rel, 1e-3) << "step " << s + 1 << " " << key << ": ours " << a << ", torch " << b;
    }
  }
  const TensorMap final_ours = load_safetensors(dir + "/ours_final.safetensors");
  const TensorMap final_torch = load_safetensors(dir + "/torch/final.safetensors");
  const TensorMap init = load_safetensors(dir + "/init.safetensors");
  double worst_param = 0, diff_sq = 0, update_sq = 0;
  for (const auto& [name, expected] : final_torch) {
    ASSERT_TRUE(final_ours.count(name)) << name;
    const Tensor& got = final_ours.at(name);
    if (expected.dtype() != DType::F32) {
      EXPECT_EQ(got.data_i64()[0], expected.data_i64()[0]) << name;
      continue;
    }
    if (name.find("running_") != std::string::npos) {
      EXPECT_LT(test::relative_error(got, expected), 1e-3) << name;
      if (c.frozen_bn) EXPECT_EQ(got.to_vector(), init.at(name).to_vector()) << name << " moved under --frozen-bn";
      continue;
    }
    // The learned boundaries are not in the init file: they start at --margin-beta.
    const std::vector<float> a = got.to_vector(), b = expected.to_vector(),
                             i0 = init.count(name) ? init.at(name).to_vector() : std::vector<float>(a.size(), 1.2f);
    double d = 0, u = 0;
    for (size_t e = 0; e < a.size(); ++e) {
      d += (double(a[e]) - b[e]) * (double(a[e]) - b[e]);
      u += (double(b[e]) - i0[e]) * (double(b[e]) - i0[e]);
    }
    diff_sq += d;
    update_sq += u;
    if (u == 0) {  // a parameter this loss does not train (e.g. head.attr in metric mode) must not move either
      EXPECT_EQ(d, 0.0) << name;
      continue;
    }
    const double err = std::sqrt(d / u);
    worst_param = std::max(worst_param, err);
    EXPECT_LT(err, 0.1) << name << ": relative error of the update";
  }
  EXPECT_LT(std::sqrt(diff_sq / update_sq), 0.05) << "whole-model update";
  const double worst_moment = expect_adam_moments_match(dir, c, init);
  // Both runs moved the parameters: ours (a trainer that does nothing must fail here) and the reference (whose
  // updates the comparison above would otherwise hold to nothing).
  for (const TensorMap* final_state : {&final_ours, &final_torch})
    EXPECT_GT(test::relative_error(final_state->at("layer1.0.conv1.weight"), init.at("layer1.0.conv1.weight")), 1e-5);
  std::printf("parity %s/%s: worst step-loss relative difference %.2e (step 1: %.2e), worst tensor update error "
              "%.2e, whole-model update error %.2e, worst Adam moment error %.2e\n",
              c.loss.c_str(), c.sampling.c_str(), worst, worst_step1, worst_param, std::sqrt(diff_sq / update_sq),
              worst_moment);
}

INSTANTIATE_TEST_SUITE_P(
    AllModes, TrainParity,
    ::testing::Values(ParityCase{"sgml", "batch"}, ParityCase{"sgml", "batch", false, 0.0},
                      ParityCase{"multitask", "batch"},
                      // weight decay, which must not reach the branch the loss leaves unused (head.attr, head.emb)
                      ParityCase{"metric", "batch", true, 1e-4}, ParityCase{"attribute", "batch", true, 1e-4},
                      ParityCase{"sgml", "image"}, ParityCase{"sgml", "batch", true, 0.0, true},
                      ParityCase{"rank-multitask", "batch"},
                      ParityCase{"margin", "batch", true, 0.0, true},  // the nearest sampler, frozen BN
                      ParityCase{"margin", "batch", true, 0.0, true, "distance"},
                      ParityCase{"margin", "batch", true, 0.0, true, "nearest", "linear"},
                      // weight decay on the network, none on the boundaries, which step at their own rate
                      ParityCase{"margin", "batch", true, 1e-4, true, "distance", "linear", true}),
    [](const ::testing::TestParamInfo<ParityCase>& info) {
      std::string loss = info.param.loss;  // a test name has no '-'
      for (char& ch : loss)
        if (ch == '-') ch = '_';
      return loss + "_" + info.param.sampling + (info.param.sgs_grad ? "" : "_sgs_off") +
             (info.param.weight_decay > 0 ? "_wd" : "") + (info.param.frozen_bn ? "_frozen_bn" : "") +
             (info.param.loss == "margin" && info.param.sampler != "nearest" ? "_" + info.param.sampler : "") +
             (info.param.head != "sgml" ? "_" + info.param.head + "_head" : "") +
             (info.param.learn_beta ? "_learned_beta" : "");
    });

}  // namespace
