// `sgml train demo --loss rank` and `--loss rank-multitask` (the rank-approximation loss, our reconstruction from
// the abstract of Schall et al. 2019, losses/rank_loss.h) end to end: a few steps of ResNet-18 at 32 px from
// scratch on the CPU with batch-wise sampling. Checks that the runs complete with finite losses of the right
// composition, that config.json records the loss and its parameters, that image-wise sampling and out-of-range
// parameters are refused with clear messages, and that the help says what the loss is.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

using namespace sgml;

namespace {

using test::sgml;
using test::run_cli;
using test::kSmallLossRun;

TEST(CliRankLoss, TrainsTheDemoAloneAndWithBce) {
  const std::string dir = test::scratch_dir("cli_rank_loss"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " info demo --data " + data + " 2>&1", &out), 0) << out;  // generates the demo data

  for (const std::string loss : {"rank", "rank-multitask"}) {
    SCOPED_TRACE(loss);
    const std::string run_dir = dir + "/" + loss;
    ASSERT_EQ(run_cli(sgml() + " train demo --data " + data + " --out " + run_dir + " --loss " + loss +
                      " --rank-tau 0.1 --rank-rho 0.25 --lambda 0.5" + kSmallLossRun + " 2>&1", &out), 0) << out;
    const std::vector<nlohmann::json> steps = test::jsonl_records(run_dir + "/metrics.jsonl", "loss");
    ASSERT_EQ(steps.size(), 3u) << out;
    for (const nlohmann::json& s : steps) {
      const double total = s.at("loss"), metric = s.at("metric_loss"), bce = s.at("bce_loss");
      ASSERT_TRUE(std::isfinite(total) && std::isfinite(metric) && std::isfinite(bce)) << s.dump();
      EXPECT_GT(metric, 0.0) << s.dump();
      EXPECT_LE(metric, 2.0) << "L_pos and L_neg are each in [0, 1]: " << s.dump();
      const double expected = loss == "rank" ? metric : metric + 0.5 * bce;
      EXPECT_NEAR(total, expected, 1e-5 * std::max(1.0, expected)) << s.dump();
      // 4 classes x 3 images: ordered pairs, 4 x 3 x 2 positive of 12 x 11.
      EXPECT_EQ(s.at("positive_pairs"), 24) << s.dump();
      EXPECT_EQ(s.at("negative_pairs"), 12 * 11 - 24) << s.dump();
    }
    std::ifstream config_file(run_dir + "/config.json");
    const nlohmann::json config = nlohmann::json::parse(config_file);
    EXPECT_EQ(config.at("loss"), loss);
    EXPECT_DOUBLE_EQ(config.at("rank_tau").get<double>(), 0.1);
    EXPECT_DOUBLE_EQ(config.at("rank_rho").get<double>(), 0.25);
  }

  // Image-wise sampling has no ranking of the batch; parameters outside the stable range are refused.
  const std::string refused = sgml() + " train demo --data " + data + " --out " + dir + "/refused" + kSmallLossRun;
  EXPECT_NE(run_cli(refused + " --loss rank --sampling image --triplets-per-batch 4 2>&1", &out), 0);
  EXPECT_NE(out.find("--loss rank needs --sampling batch"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss rank --rank-tau 0.0001 2>&1", &out), 0);
  EXPECT_NE(out.find("--rank-tau"), std::string::npos) << out;
  EXPECT_NE(run_cli(refused + " --loss rank-multitask --rank-rho 0 2>&1", &out), 0);
  EXPECT_NE(out.find("--rank-rho"), std::string::npos) << out;

  // The help says plainly that the loss is a reconstruction.
  ASSERT_EQ(run_cli(sgml() + " train --help 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("rank-multitask (RANK + lambda*BCE); RANK is our reconstruction"), std::string::npos) << out;
  EXPECT_NE(out.find("--rank-tau"), std::string::npos) << out;
  EXPECT_NE(out.find("--rank-rho"), std::string::npos) << out;
}

// The rank loss with Divide & Conquer's learners (issue 14): each batch's loss on its cluster's learner slice.
TEST(CliRankLoss, TrainsWithDivideAndConquerLearners) {
  const std::string dir = test::scratch_dir("cli_rank_loss_dnc"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train demo --method dnc --loss rank --learners 2 --embedding-dim 16 --recluster-every 1"
                    " --data " + data + " --out " + dir + "/run" + kSmallLossRun + " 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> steps = test::jsonl_records(dir + "/run/metrics.jsonl", "loss");
  ASSERT_EQ(steps.size(), 3u) << out;
  for (const nlohmann::json& s : steps) {
    const double metric = s.at("metric_loss");
    EXPECT_TRUE(std::isfinite(metric) && metric > 0.0 && metric <= 2.0) << s.dump();
  }
  std::ifstream config_file(dir + "/run/config.json");
  const nlohmann::json config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config.at("loss"), "rank");
  EXPECT_EQ(config.at("learners"), 2);
}

}  // namespace
