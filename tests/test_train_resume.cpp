// Resume: a run interrupted after k steps and resumed continues exactly as an uninterrupted one: the same losses
// at every later step and the same final parameters (bitwise on the CPU), with augmentation and sampling on.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

std::vector<double> losses_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"]);
  }
  return out;
}

TEST(TrainResume, ResumedRunEqualsUninterruptedRun) {
  const std::string dir = test::scratch_dir("resume"), data = dir + "/data";
  test::run_reference("sgml_reference.py", {"make-data", data});
  const std::string base = std::string(SGML_BINARY_DIR) + "/sgml train deepfashion --data " + data +
                           " --model resnet18 --image-size 64 --device cpu --no-pretrained --classes-per-batch 3"
                           " --images-per-class 2 --lr 1e-3 --eval-every 0 --workers 2 --seed 5";
  std::string out;
  ASSERT_EQ(test::run_command(base + " --steps 6 --out " + dir + "/full", &out), 0) << out;
  ASSERT_EQ(test::run_command(base + " --steps 3 --out " + dir + "/split", &out), 0) << out;
  ASSERT_EQ(test::run_command(base + " --steps 6 --resume --out " + dir + "/split", &out), 0) << out;

  const auto full = losses_of(dir + "/full/metrics.jsonl"), split = losses_of(dir + "/split/metrics.jsonl");
  ASSERT_EQ(full.size(), 6u);
  ASSERT_EQ(split.size(), 6u);
  for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(full[i], split[i]) << "step " << i + 1;

  const TensorMap a = load_safetensors(dir + "/full/last.safetensors"), b = load_safetensors(dir + "/split/last.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    if (t.dtype() != DType::F32) continue;
    EXPECT_EQ(t.to_vector(), b.at(name).to_vector()) << name;
  }
}

}  // namespace

namespace {

// Ctrl-C: the run saves a checkpoint and exits cleanly (status 0), and --resume continues from it.
TEST(TrainInterrupt, SigintSavesACheckpointAndExitsCleanly) {
  const std::string dir = test::scratch_dir("sigint"), data = dir + "/data";
  test::run_reference("sgml_reference.py", {"make-data", data});
  const std::string base = std::string(SGML_BINARY_DIR) + "/sgml train deepfashion --data " + data +
                           " --model resnet18 --image-size 64 --device cpu --no-pretrained --classes-per-batch 3"
                           " --images-per-class 2 --eval-every 0 --workers 2 --out " + dir + "/run";
  std::string out;
  // Interrupt after the first steps have logged, then wait for the exit status.
  const std::string script = "(" + base + " --steps 100000 > " + dir + "/log.txt 2>&1 & pid=$!; "
                             "for i in $(seq 1 600); do [ -s " + dir + "/run/metrics.jsonl ] && break; sleep 0.1; done; "
                             "kill -INT $pid; wait $pid; echo status=$?)";
  ASSERT_EQ(test::run_command("bash -c '" + script + "'", &out), 0) << out;
  EXPECT_NE(out.find("status=0"), std::string::npos) << out;
  std::ifstream log(dir + "/log.txt");
  const std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("interrupted: checkpoint saved"), std::string::npos) << text;
  const size_t done = losses_of(dir + "/run/metrics.jsonl").size();
  ASSERT_GT(done, 0u);
  ASSERT_EQ(test::run_command(base + " --steps " + std::to_string(done + 2) + " --resume", &out), 0) << out;
  EXPECT_EQ(losses_of(dir + "/run/metrics.jsonl").size(), done + 2);
}

}  // namespace
