// Resume: a run interrupted after k steps and resumed continues exactly as an uninterrupted one: the same losses
// at every later step and the same final parameters (bitwise on the CPU), with augmentation and sampling on.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "training/checkpoint.h"
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
  // Resumed with fewer steps than the checkpoint has: nothing trains, and the run says so; its evaluation at that
  // step is in the log already, and none is added (each resume of a finished run appended another).
  const size_t evaluations = test::jsonl_records(dir + "/split/metrics.jsonl", "recall@1").size();
  ASSERT_EQ(test::run_command(base + " --steps 4 --resume --out " + dir + "/split 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("nothing to train: the checkpoint is at step 6 (epochs done: 2), which already reaches --steps 4"),
            std::string::npos) << out;
  EXPECT_EQ(losses_of(dir + "/split/metrics.jsonl"), split);
  EXPECT_EQ(test::jsonl_records(dir + "/split/metrics.jsonl", "recall@1").size(), evaluations);

  const TensorMap a = load_safetensors(dir + "/full/last.safetensors"),
                  b = load_safetensors(dir + "/split/last.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    if (t.dtype() != DType::F32) continue;
    EXPECT_EQ(t.to_vector(), b.at(name).to_vector()) << name;
  }
}

std::vector<nlohmann::json> step_rows(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && nlohmann::json::parse(line).contains("loss")) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// The trainer's schedule in a real run: the rate of every step (metrics.jsonl's "lr") is torch's warm-up (LinearLR)
// then StepLR with a step size of --lr-step-epochs epochs in optimiser steps; a run interrupted mid-epoch, before a
// drop, and resumed logs the same rates and losses as the uninterrupted one.
TEST(TrainSchedule, RunFollowsTorchsSchedulersAndResumesAcrossADrop) {
  const std::string dir = test::scratch_dir("schedule"), data = dir + "/data";
  test::run_reference("sgml_reference.py", {"make-data", data});
  const double base_lr = 1e-3, gamma = 0.5;
  const int warmup = 2, epochs = 3;
  const std::string base = std::string(SGML_BINARY_DIR) + "/sgml train deepfashion --data " + data +
                           " --model resnet18 --image-size 32 --device cpu --no-pretrained --classes-per-batch 2"
                           " --images-per-class 2 --eval-every -1 --workers 2 --seed 5 --lr 1e-3 --lr-schedule step"
                           " --lr-step-epochs 1 --lr-gamma 0.5 --warmup-steps 2 --epochs 3";
  std::string out;
  ASSERT_EQ(test::run_command(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> full = step_rows(dir + "/full/metrics.jsonl");
  int64_t steps_per_epoch = 0;
  for (const auto& row : full) steps_per_epoch += row["epoch"] == 1;
  ASSERT_GE(steps_per_epoch, 3) << "the test needs a drop inside the run, past the warm-up";
  ASSERT_EQ(int64_t(full.size()), epochs * steps_per_epoch);

  nlohmann::json spec = nlohmann::json::array();
  spec.push_back({{"name", "run"}, {"kind", "step"}, {"base_lr", base_lr}, {"step_size", steps_per_epoch},
                  {"gamma", gamma}, {"total_steps", 0}, {"min_lr", 0.0}, {"warmup_steps", warmup},
                  {"warmup_start_factor", 1e-3}, {"steps", full.size()}});
  std::ofstream(dir + "/cases.json") << spec.dump();
  test::run_reference("adam_ref.py", {"lr", dir + "/cases.json", dir + "/lrs.json"});
  std::ifstream f(dir + "/lrs.json");
  const nlohmann::json torch_lrs = nlohmann::json::parse(f).at("run");
  ASSERT_EQ(torch_lrs.size(), full.size());
  for (size_t t = 0; t < full.size(); ++t)
    EXPECT_NEAR(full[t]["lr"].get<double>(), torch_lrs[t].get<double>(), 1e-12 * base_lr) << "step " << t + 1;

  // Stopped one step before the first drop (mid-epoch), resumed to the end.
  const int64_t stop = warmup + steps_per_epoch - 1;
  ASSERT_EQ(test::run_command(base + " --steps " + std::to_string(stop) + " --out " + dir + "/split 2>&1", &out), 0)
      << out;
  ASSERT_EQ(test::run_command(base + " --resume --out " + dir + "/split 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> split = step_rows(dir + "/split/metrics.jsonl");
  ASSERT_EQ(split.size(), full.size());
  for (size_t t = 0; t < full.size(); ++t) {
    EXPECT_EQ(split[t]["lr"], full[t]["lr"]) << "step " << t + 1;
    EXPECT_EQ(split[t]["loss"], full[t]["loss"]) << "step " << t + 1;
  }
}

}  // namespace

namespace {

// Ctrl-C, or SIGTERM (what a batch scheduler sends): the run saves a checkpoint and exits with the status of a
// process ended by that signal (130, 143: `train && eval` must not go on), and --resume continues from it.
TEST(TrainInterrupt, SigintAndSigtermSaveACheckpointAndStop) {
  const std::string dir = test::scratch_dir("sigint"), data = dir + "/data";
  test::run_reference("sgml_reference.py", {"make-data", data});
  const std::string base = std::string(SGML_BINARY_DIR) + "/sgml train deepfashion --data " + data +
                           " --model resnet18 --image-size 64 --device cpu --no-pretrained --classes-per-batch 3"
                           " --images-per-class 2 --eval-every 0 --workers 2 --out " + dir + "/run";
  const std::string metrics = dir + "/run/metrics.jsonl";
  size_t done = 0;
  for (const auto& [signal, status] : {std::pair<std::string, int>{"INT", 130}, {"TERM", 143}}) {
    SCOPED_TRACE("SIG" + signal);
    // Interrupt after a step more than the checkpoint's has logged (an evaluation's record holds no loss), then
    // wait for the exit status.
    const std::string script = "(" + base + " --steps 100000" + (done ? " --resume" : "") + " > " + dir +
                               "/log.txt 2>&1 & pid=$!; for i in $(seq 1 600); do [ $(grep -c loss " + metrics +
                               " 2>/dev/null) -gt " + std::to_string(done) + " ] && break; sleep 0.1; done; "
                               "kill -" + signal + " $pid; wait $pid; echo status=$?)";
    std::string out;
    ASSERT_EQ(test::run_command("bash -c '" + script + "'", &out), 0) << out;
    EXPECT_NE(out.find("status=" + std::to_string(status)), std::string::npos) << out;
    const std::string text = test::file_text(dir + "/log.txt");
    EXPECT_NE(text.find("interrupted (SIG" + signal + "): checkpoint saved"), std::string::npos) << text;
    EXPECT_NE(text.find("stopped: "), std::string::npos) << text;
    const size_t logged = losses_of(metrics).size();
    ASSERT_GT(logged, done);
    done = logged;
  }
  std::string out;
  ASSERT_EQ(test::run_command(base + " --steps " + std::to_string(done + 2) + " --resume 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("done: "), std::string::npos) << out;
  EXPECT_EQ(losses_of(metrics).size(), done + 2);
}

// A stop during an evaluation (minutes of feature extraction on a large test set) does not wait for it, and loses
// neither the trained steps nor the evaluation: the checkpoint says that the evaluation is pending, and --resume
// runs it first; a stop during the untrained model's evaluation saves the run at step 0. The metrics log and the
// files then equal an uninterrupted run's.
TEST(TrainInterrupt, StopDuringAnEvaluationResumesWithIt) {
  const std::string dir = test::scratch_dir("sigint_eval"), data = dir + "/data";
  std::string out;
  ASSERT_EQ(test::run_command(test::sgml() + " info demo --data " + data + " 2>&1", &out), 0) << out;
  // One worker: the evaluation of the demo's 420 test images takes seconds, and it checks for a stop at each batch.
  const std::string base =
      test::sgml() + " train demo --data " + data + " --device cpu --workers 1 --seed 3 --steps 2 --eval-every 0";
  ASSERT_EQ(test::run_command(base + " --out " + dir + "/full 2>&1", &out), 0) << out;

  const std::string metrics = dir + "/run/metrics.jsonl";
  // Runs `command` in the background, sends SIGINT once `condition` holds (polled), and returns its log.
  const auto interrupt_when = [&](const std::string& command, const std::string& condition) {
    const std::string wait = "for i in $(seq 1 1200); do " + condition + " && break; sleep 0.05; done";
    const std::string script = "(" + command + " > " + dir + "/log.txt 2>&1 & pid=$!; " + wait +
                               "; kill -INT $pid; wait $pid; echo status=$?)";
    std::string status;
    EXPECT_EQ(test::run_command("bash -c '" + script + "'", &status), 0) << status;
    EXPECT_NE(status.find("status=130"), std::string::npos) << status;
    return test::file_text(dir + "/log.txt");
  };
  // SIGINT during the untrained model's evaluation (config.json is written just before it): the run is saved at
  // step 0, and the resumed run evaluates it again.
  std::string log = interrupt_when(base + " --out " + dir + "/run", "[ -e " + dir + "/run/config.json ]");
  ASSERT_NE(log.find("interrupted (SIGINT): checkpoint saved to " + dir + "/run/last.safetensors"), std::string::npos)
      << log;
  EXPECT_EQ(load_checkpoint(dir + "/run/last.safetensors").progress.step, 0);
  EXPECT_EQ(test::jsonl_records(metrics, "recall@1").size(), 0u);
  // SIGINT once step 2 is logged: the evaluation of the trained model runs then.
  log =
      interrupt_when(base + " --resume --out " + dir + "/run", "[ $(grep -c loss " + metrics + " 2>/dev/null) -ge 2 ]");
  ASSERT_NE(log.find("interrupted (SIGINT) during the evaluation at step 2: checkpoint saved to " + dir +
                     "/run/last.safetensors (continue with --resume, which evaluates first)"),
            std::string::npos)
      << log;
  EXPECT_TRUE(load_checkpoint(dir + "/run/last.safetensors").progress.evaluation_pending);
  EXPECT_EQ(test::jsonl_records(metrics, "recall@1").size(), 1u);  // before training only
  EXPECT_FALSE(std::filesystem::exists(dir + "/run/best.safetensors"));

  ASSERT_EQ(test::run_command(base + " --resume --out " + dir + "/run 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("evaluating the model of step 2 first: the run was stopped during that evaluation"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("no evaluation"), std::string::npos) << out;
  EXPECT_FALSE(load_checkpoint(dir + "/run/last.safetensors").progress.evaluation_pending);
  EXPECT_EQ(test::file_text(metrics), test::file_text(dir + "/full/metrics.jsonl"));
  for (const char* file : {"/last.safetensors", "/best.safetensors"}) {
    const TensorMap a = load_safetensors(dir + "/full" + file), b = load_safetensors(dir + "/run" + file);
    ASSERT_EQ(a.size(), b.size()) << file;
    for (const auto& [name, t] : a)
      if (t.dtype() == DType::F32) EXPECT_EQ(t.to_vector(), b.at(name).to_vector()) << file << " " << name;
  }
}

}  // namespace
