// `sgml train demo --loss margin` (the margin loss of Wu et al. 2017, losses/margin_loss.h) end to end with the SGML
// model: a few steps of ResNet-18 at 32 px from scratch on the CPU with both negative samplers. Checks that the
// runs complete with finite losses, that config.json records the loss and its parameters, that the same seed
// gives the same distance-sampled losses, and that image-wise sampling, out-of-range parameters and an unknown
// sampler are refused with clear messages.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

using test::sgml;
using test::run_cli;
using test::kSmallLossRun;

TEST(CliMarginLoss, TrainsTheDemoWithEverySampler) {
  const std::string dir = test::scratch_dir("cli_margin_loss"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " info demo --data " + data + " 2>&1", &out), 0) << out;  // generates the demo data

  std::vector<double> distance_losses;
  for (const std::string run_name : {"nearest", "distance", "distance_again", "distance-distinct"}) {
    SCOPED_TRACE(run_name);
    const std::string sampler = run_name == "distance_again" ? "distance" : run_name;
    const std::string run_dir = dir + "/" + run_name;
    ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + run_dir + " --loss margin --sampler " +
                      sampler + " --margin 0.25 --margin-beta 1.1" + kSmallLossRun + " 2>&1", &out), 0) << out;
    const std::vector<nlohmann::json> steps = test::jsonl_records(run_dir + "/metrics.jsonl", "loss");
    ASSERT_EQ(steps.size(), 3u) << out;
    for (const nlohmann::json& s : steps) {
      const double total = s.at("loss"), metric = s.at("metric_loss");
      ASSERT_TRUE(std::isfinite(total) && std::isfinite(metric)) << s.dump();
      EXPECT_EQ(total, metric) << "the margin loss alone: " << s.dump();
      // Each non-zero hinge is below max distance 2 + beta + m; the loss is their mean.
      EXPECT_GT(metric, 0.0) << s.dump();
      EXPECT_LT(metric, 2.0 + 1.1 + 0.25) << s.dump();
      // 4 classes x 3 images: 4 x 3 x 2 triplets, each with a negative.
      EXPECT_EQ(s.at("positive_pairs"), 24) << s.dump();
      EXPECT_EQ(s.at("negative_pairs"), 24) << s.dump();
      if (sampler == "distance") distance_losses.push_back(metric);
    }
    std::ifstream config_file(run_dir + "/config.json");
    const nlohmann::json config = nlohmann::json::parse(config_file);
    EXPECT_EQ(config.at("loss"), "margin");
    EXPECT_EQ(config.at("sampler"), sampler);
    EXPECT_DOUBLE_EQ(config.at("margin").get<double>(), 0.25);
    EXPECT_DOUBLE_EQ(config.at("margin_beta").get<double>(), 1.1);
  }
  ASSERT_EQ(distance_losses.size(), 6u);
  for (int s = 0; s < 3; ++s) EXPECT_EQ(distance_losses[s], distance_losses[s + 3]) << "seeded draws, step " << s;

  const std::string refused = sgml() + " train demo --data " + data + " --out " + dir + "/refused" + kSmallLossRun;
  EXPECT_NE(run_cli(refused + " --loss margin --sampling image --triplets-per-batch 4 2>&1", &out), 0);
  EXPECT_NE(out.find("--loss margin needs --sampling batch"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss margin --margin -0.1 2>&1", &out), 0);
  EXPECT_NE(out.find("--margin"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss margin --margin-beta 3 2>&1", &out), 0);
  EXPECT_NE(out.find("--margin-beta"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss margin --sampler semihard 2>&1", &out), 0);
  EXPECT_NE(out.find("--sampler"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss sgml --learn-beta 2>&1", &out), 0);
  EXPECT_NE(out.find("--learn-beta learns the boundaries of the margin loss: it needs --loss margin"),
            std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss margin --beta-nu 0.1 2>&1", &out), 0);
  EXPECT_NE(out.find("--beta-nu penalises the learned boundaries of the margin loss: it needs --learn-beta"),
            std::string::npos) << out;
  ASSERT_EQ(run_cli(sgml() + " train --help 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("margin (the margin loss of Wu et al. 2017"), std::string::npos) << out;
}

// --learn-beta: one boundary per training class, a parameter saved with the model; eval ignores it.
TEST(CliMarginLoss, LearnsOneBetaPerClassAndEvalIgnoresIt) {
  const std::string dir = test::scratch_dir("cli_margin_beta"), data = dir + "/data", run_dir = dir + "/run";
  const test::RemovedAtExit remove{dir};
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " info demo --data " + data + " 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + run_dir +
                    " --loss margin --learn-beta --margin-beta 1.1 --beta-lr 0.01" + kSmallLossRun + " 2>&1", &out), 0)
      << out;
  const TensorMap saved = load_safetensors(run_dir + "/last.safetensors");
  ASSERT_TRUE(saved.count("loss.margin_beta")) << "the learned boundaries are saved";
  const std::vector<float> beta = saved.at("loss.margin_beta").to_vector();
  EXPECT_GT(beta.size(), 4u) << "one per training class";
  int moved = 0;
  for (float b : beta) moved += b != 1.1f;
  // 3 Adam steps of 0.01 (--beta-lr): the classes of the 3 batches moved (4 per batch), the others kept 1.1.
  EXPECT_GE(moved, 4);
  EXPECT_LE(moved, 12);
  ASSERT_EQ(run_cli(sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint " + run_dir +
                    "/last.safetensors 2>&1", &out), 0) << out;
}

}  // namespace
