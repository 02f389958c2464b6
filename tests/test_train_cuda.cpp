// On a GPU: the CUDA trainer agrees with the CPU trainer step by step (same --init, batch plan, no augmentation).
// cuDNN's convolution algorithms sum in other orders than im2col, so the tolerance is the parity test's 1e-3.
// Under --precision tf32 (TF32 tensor cores) the losses stay within 2e-2 of the fp32 CPU run over the 10 steps.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"
#include "training/checkpoint.h"

using namespace sgml;

namespace {

std::vector<double> step_losses(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) {
      auto j = nlohmann::json::parse(line);
      if (j.contains("loss")) out.push_back(j["loss"]);
    }
  return out;
}

// Each tensor's update (final - init) of `other` against `reference`'s, and the flat Adam moments, by relative error;
// batch norm's running statistics are updates too (buffers in the checkpoint). A tensor that did not move in the
// reference (an unused branch) must not move in the other either.
void expect_same_final_state(const std::string& reference, const std::string& other, const TensorMap& init) {
  const Checkpoint a = load_checkpoint(reference), b = load_checkpoint(other);
  double diff_sq = 0, update_sq = 0, worst = 0;
  size_t compared = 0;
  for (const auto& [name, start] : init) {
    if (!a.model.count(name) || !b.model.count(name) || start.dtype() != DType::F32) continue;
    const std::vector<float> s = start.to_vector(), x = a.model.at(name).to_vector(), y = b.model.at(name).to_vector();
    ASSERT_EQ(x.size(), s.size()) << name;
    ASSERT_EQ(y.size(), s.size()) << name;
    double d = 0, u = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const double ux = double(x[i]) - s[i], uy = double(y[i]) - s[i];
      d += (ux - uy) * (ux - uy);
      u += ux * ux;
    }
    diff_sq += d;
    update_sq += u;
    ++compared;
    if (u == 0) {
      EXPECT_EQ(d, 0.0) << name << " moved on the GPU only";
      continue;
    }
    worst = std::max(worst, std::sqrt(d / u));
    EXPECT_LT(std::sqrt(d / u), 0.1) << name << ": relative error of the update";
  }
  EXPECT_GT(compared, 20u) << "the tensors of ResNet-18 and the head";
  ASSERT_GT(update_sq, 0.0) << "the reference run moved nothing";
  EXPECT_LT(std::sqrt(diff_sq / update_sq), 0.05) << "whole-model update";
  for (const char* moment : {"adam.m", "adam.v"}) {
    ASSERT_TRUE(a.optimizer.count(moment) && b.optimizer.count(moment)) << moment;
    EXPECT_LT(test::relative_error(b.optimizer.at(moment), a.optimizer.at(moment)), 0.05) << moment;
  }
  std::printf("GPU vs CPU trainer: worst tensor update error %.2e, whole model %.2e (%zu tensors)\n", worst,
              std::sqrt(diff_sq / update_sq), compared);
}

TEST(TrainCuda, CudaTrainerMatchesCpuTrainer) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_WITHOUT_TORCH();  // the data, the initial weights and the batch plan come from the reference script
  const std::string dir = test::scratch_dir("train_cuda"), data = dir + "/data";
  test::run_reference("sgml_reference.py", {"make-data", data});
  test::run_reference("sgml_reference.py", {"make-init", "resnet18", "5", dir + "/init.safetensors"});
  test::run_reference("sgml_reference.py", {"make-plan", data, "batch", "10", dir + "/plan.txt"});
  std::map<std::string, std::vector<double>> losses;
  for (const std::string run : {"cpu", "cuda", "cuda-tf32"}) {
    const std::string device = run == "cpu" ? "cpu" : test::gpu_device_flag();
    const std::string precision = run == "cuda-tf32" ? "tf32" : "fp32";
    std::string out;
    const std::string cmd = std::string(SGML_BINARY_DIR) + "/sgml train deepfashion --data " + data +
                            " --model resnet18 --image-size 64 --init " + dir + "/init.safetensors --batch-plan " +
                            dir + "/plan.txt --augment off --steps 10 --lr 2e-5 --eval-every 0 --device " + device +
                            " --precision " + precision + " --out " + dir + "/" + run + " --metrics " + dir + "/" +
                            run + ".jsonl";
    ASSERT_EQ(test::run_command(cmd, &out), 0) << out;
    losses[run] = step_losses(dir + "/" + run + ".jsonl");
  }
  ASSERT_EQ(losses["cpu"].size(), 10u);
  ASSERT_EQ(losses["cuda"].size(), 10u);
  ASSERT_EQ(losses["cuda-tf32"].size(), 10u);
  for (size_t s = 0; s < 10; ++s) {
    EXPECT_NEAR(losses["cuda"][s], losses["cpu"][s], 1e-3 * std::abs(losses["cpu"][s])) << "step " << s + 1;
    EXPECT_NEAR(losses["cuda-tf32"][s], losses["cpu"][s], 2e-2 * std::abs(losses["cpu"][s])) << "tf32, step " << s + 1;
  }
  // The losses alone would pass a GPU trainer whose gradients are off by a constant factor (Adam normalises them):
  // the fp32 runs' final states, as updates from the common initial weights, and Adam's moments, within the bounds
  // of the PyTorch parity test (tests/test_train_parity.cpp: 0.1 per tensor, 0.05 for the whole model).
  expect_same_final_state(dir + "/cpu/last.safetensors", dir + "/cuda/last.safetensors",
                          load_safetensors(dir + "/init.safetensors"));
}

// Divide & Conquer's follow-up on the GPU (learned masks: fn::scale_columns and column_dots, the masks' Adam group;
// the hierarchy's division at the start of epoch 2: 2-means, mask copies and the masks' Adam restart on the device)
// against the same run on the CPU: the first 10 steps (one cluster) within the test above's 1e-3; after the division
// the clusters may differ by a borderline image (features from cuDNN), so the rest is only checked to be finite.
TEST(TrainCuda, DivideAndConquerWithLearnedMasksAndDivisionMatchesCpu) {
  SGML_SKIP_WITHOUT_GPU();
  const std::string dir = test::scratch_dir("train_cuda_dnc"), data = dir + "/data";
  std::string out;
  ASSERT_EQ(test::run_command(test::sgml() + " info demo --data " + data + " 2>&1", &out), 0) << out;
  std::map<std::string, std::vector<double>> losses;
  for (const std::string run : {"cpu", "cuda"}) {
    const std::string device = run == "cpu" ? "cpu" : test::gpu_device_flag();
    const std::string cmd = test::sgml() + " train demo --method dnc --data " + data +
                            " --model resnet18 --image-size 32 --no-pretrained --head linear --learners 2"
                            " --learner-masks learned --mask-lr-mult 1 --division hierarchical --recluster-every 1"
                            " --embedding-dim 16 --classes-per-batch 6 --images-per-class 2 --lr 2e-5"
                            " --lr-schedule constant --eval-every -1 --workers 2 --seed 4 --epochs 2"
                            " --device " + device + " --out " + dir + "/" + run + " 2>&1";
    ASSERT_EQ(test::run_command(cmd, &out), 0) << out;
    losses[run] = step_losses(dir + "/" + run + "/metrics.jsonl");
    const std::vector<nlohmann::json> rec = test::jsonl_records(dir + "/" + run + "/metrics.jsonl", "recluster");
    ASSERT_EQ(rec.size(), 2u) << run;
    EXPECT_EQ(rec[1].at("learners"), 2) << run;
  }
  ASSERT_EQ(losses["cpu"].size(), losses["cuda"].size());
  ASSERT_GE(losses["cpu"].size(), 12u);
  for (size_t s = 0; s < 10; ++s)
    EXPECT_NEAR(losses["cuda"][s], losses["cpu"][s], 1e-3 * std::abs(losses["cpu"][s])) << "step " << s + 1;
  for (double l : losses["cuda"]) EXPECT_TRUE(std::isfinite(l));
}

}  // namespace
