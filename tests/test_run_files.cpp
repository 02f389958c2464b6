// The files of a training run after `kill -9`: a resumed run's metrics log holds each step once (records written
// after the checkpoint are dropped), and the partial temporaries of an interrupted checkpoint write are removed
// (only ours: TARGET.tmp.<pid> whose process is gone). A new run into the folder of an earlier one sets the earlier
// run's files aside, whole, instead of overwriting some of them and leaving the others beside the new run's.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"
#include "training/checkpoint.h"
#include "training/progress.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

// The pid of a process that has exited (a child reaped at once): what a run killed with -9 leaves in a file name.
long dead_pid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return long(child);
}

TEST(RunFiles, MetricsLogIsCutAtTheCheckpointStep) {
  const std::string dir = test::scratch_dir("metrics"), path = dir + "/metrics.jsonl";
  test::write_file_text(path,
                        "{\"step\":1,\"loss\":0.9}\n"
                        "{\"step\":2,\"loss\":0.8}\n"
                        "{\"epoch\":1,\"recall@1\":0.5,\"step\":2}\n"
                        "\n"
                        "{\"step\":3,\"loss\":0.7}\n"
                        "{\"step\":4,\"loss\":0.6}\n"
                        "{\"epoch\":2,\"recall@1\":0.6,\"step\":4}\n"
                        "{\"step\":5,\"lo");  // cut by the kill
  const std::string up_to_3 =
      "{\"step\":1,\"loss\":0.9}\n"
      "{\"step\":2,\"loss\":0.8}\n"
      "{\"epoch\":1,\"recall@1\":0.5,\"step\":2}\n"
      "\n"
      "{\"step\":3,\"loss\":0.7}\n";
  EXPECT_EQ(truncate_metrics_log(path, 3), 3u);
  EXPECT_EQ(test::file_text(path), up_to_3);
  // Nothing after the step: the file stays as it is.
  EXPECT_EQ(truncate_metrics_log(path, 3), 0u);
  EXPECT_EQ(truncate_metrics_log(path, 100), 0u);
  EXPECT_EQ(test::file_text(path), up_to_3);
  // A whole last record without its newline is kept and gets one, so that appending starts a new line.
  test::write_file_text(path, "{\"step\":1}\n{\"step\":2}");
  EXPECT_EQ(truncate_metrics_log(path, 5), 0u);
  EXPECT_EQ(test::file_text(path), "{\"step\":1}\n{\"step\":2}\n");
  // No log yet (a new --metrics file): nothing is created.
  EXPECT_EQ(truncate_metrics_log(dir + "/absent.jsonl", 3), 0u);
  EXPECT_FALSE(fs::exists(dir + "/absent.jsonl"));
  // MetricsLog::resume appends after the cut.
  {
    MetricsLog log;
    log.resume(path, 1);
    log.write({{"step", 2}, {"loss", 0.5}});
  }
  EXPECT_EQ(test::file_text(path), "{\"step\":1}\n{\"loss\":0.5,\"step\":2}\n");
}

TEST(RunFiles, OnlyStaleTemporariesOfTheTargetAreRemoved) {
  const std::string dir = test::scratch_dir("temporaries"), target = dir + "/last.safetensors";
  const long gone = dead_pid();
  const std::string stale = target + ".tmp." + std::to_string(gone), own = target + ".tmp." + std::to_string(getpid());
  const std::vector<std::string> kept = {
      target,                                               // the checkpoint itself
      target + ".tmp.1",                                    // a live process (init) may be writing it
      target + ".tmp." + std::to_string(getppid()),         // likewise
      target + ".tmp.12ab",                                 // not our pattern
      target + ".tmp." + std::to_string(gone) + ".x",       // not our pattern
      dir + "/other.bin.tmp." + std::to_string(gone),       // another target
      dir + "/last.safetensors.bak",
  };
  for (const auto& f : kept) test::write_file_text(f, "x");
  test::write_file_text(stale, std::string(4096, 'p'));
  test::write_file_text(own, "p");
  std::vector<std::string> removed = remove_stale_temporaries(target);
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> expected = {stale, own};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(removed, expected);
  EXPECT_FALSE(fs::exists(stale));
  for (const auto& f : kept) EXPECT_TRUE(fs::exists(f)) << f;

  // The run folder's other files, and the cleaning a checkpoint save does by itself.
  for (const char* f : {"best.safetensors", "config.json", "metrics.jsonl"})
    test::write_file_text(dir + "/" + f + ".tmp." + std::to_string(gone), "p");
  EXPECT_EQ(remove_stale_run_temporaries(dir).size(), 3u);
  test::write_file_text(stale, "p");
  save_checkpoint(target, {{"w", Tensor::zeros({2})}}, {}, nlohmann::json::object(), TrainProgress{});
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(target + ".tmp.1"));

  // Every atomic writer does the same for its own target: features (.npy), --save weights, reports.
  const std::string features = dir + "/features.npy", features_stale = features + ".tmp." + std::to_string(gone);
  test::write_file_text(features_stale, std::string(4096, 'p'));
  save_npy(features, Tensor::zeros({2, 3}));
  EXPECT_FALSE(fs::exists(features_stale));
  EXPECT_EQ(load_npy(features).shape(), (std::vector<int64_t>{2, 3}));
  const std::string report = dir + "/report.html", report_stale = report + ".tmp." + std::to_string(gone);
  test::write_file_text(report_stale, "p");
  write_file_atomically(report, "<p>");
  EXPECT_FALSE(fs::exists(report_stale));
  EXPECT_TRUE(fs::exists(target + ".tmp.1"));  // another target's temporaries are not touched
  EXPECT_EQ(test::file_text(report), "<p>");
}

std::vector<int64_t> steps_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<int64_t> steps;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("loss")) steps.push_back(j["step"]);
    }
  return steps;
}

// `sgml train demo` into `run`, on demo data generated under `dir`, in small batches (the caller adds the length).
std::string small_demo_training(const std::string& dir, const std::string& run) {
  return std::string(SGML_BINARY_DIR) + "/sgml train demo --data " + dir + "/demo --out " + run +
         " --device cpu --workers 2 --classes-per-batch 3 --images-per-class 2";
}

// A run killed with -9 after its checkpoint at step 3, having logged steps 4 and 5 and an evaluation, and midway
// through writing checkpoints: the resumed run logs each step once, and the partial files are gone.
TEST(RunFiles, ResumeAfterKillKeepsOneRecordPerStepAndRemovesPartialCheckpoints) {
  const std::string dir = test::scratch_dir("killed"), run = dir + "/run";
  const std::string base = small_demo_training(dir, run) + " --eval-every -1";
  std::string out;
  ASSERT_EQ(test::run_command(base + " --steps 3", &out), 0) << out;
  ASSERT_EQ(steps_of(run + "/metrics.jsonl"), (std::vector<int64_t>{1, 2, 3}));

  std::string log = test::file_text(run + "/metrics.jsonl");
  log +=
      "{\"step\":4,\"loss\":1.0}\n{\"epoch\":1,\"recall@1\":0.5,\"step\":4}\n{\"step\":5,\"loss\":1.0}\n{\"step\":6,"
      "\"lo";
  test::write_file_text(run + "/metrics.jsonl", log);
  const long gone = dead_pid();
  const std::string partial_last = run + "/last.safetensors.tmp." + std::to_string(gone);
  const std::string partial_best = run + "/best.safetensors.tmp." + std::to_string(gone);
  test::write_file_text(partial_last, std::string(1 << 20, 'p'));
  test::write_file_text(partial_best, std::string(1 << 20, 'p'));

  ASSERT_EQ(test::run_command(base + " --steps 5 --resume", &out), 0) << out;
  EXPECT_NE(out.find("resumed from"), std::string::npos) << out;
  EXPECT_NE(out.find("left by an interrupted write"), std::string::npos) << out;
  EXPECT_EQ(steps_of(run + "/metrics.jsonl"), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  // The step-4 evaluation is gone.
  EXPECT_EQ(test::file_text(run + "/metrics.jsonl").find("recall@1"), std::string::npos);
  EXPECT_FALSE(fs::exists(partial_last));
  EXPECT_FALSE(fs::exists(partial_best));
  EXPECT_FALSE(fs::exists(run + "/earlier-1"));  // a resumed run is the same run

  // A checkpoint whose optimiser state holds NaN is refused on resume, naming the file and the tensor.
  Metadata meta;
  TensorMap state = load_safetensors(run + "/last.safetensors", &meta);
  std::vector<float> v = state.at("optimizer.adam.v").to_vector();
  v[0] = NAN;
  state["optimizer.adam.v"] = Tensor::from_vector(v, state.at("optimizer.adam.v").shape());
  save_safetensors(run + "/last.safetensors", state, meta);
  EXPECT_NE(test::run_command(base + " --steps 6 --resume", &out), 0) << out;
  EXPECT_NE(out.find("last.safetensors"), std::string::npos) << out;
  EXPECT_NE(out.find("'optimizer.adam.v' (1 of"), std::string::npos) << out;
  // And by eval, which reads the same file.
  EXPECT_NE(test::run_command(std::string(SGML_BINARY_DIR) + "/sgml eval demo --data " + dir + "/demo --checkpoint " +
                                  run + "/last.safetensors --device cpu", &out), 0) << out;
  EXPECT_NE(out.find("non-finite"), std::string::npos) << out;
}

// The files directly in `dir`, by name, with their bytes.
std::map<std::string, std::string> files_in(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) out[e.path().filename().string()] = test::file_text(e.path().string());
  return out;
}

// The metrics log holds each evaluation whole (MAP@R and every Recall@K, not only Recall@1), the untrained model's
// as epoch 0 and one after --steps ended an epoch midway labelled with that epoch; the plots' curves come from the
// whole log, so that a resumed run's show it from its first step.
TEST(RunFiles, EvaluationsAreLoggedWholeAndThePlotsCoverAResumedRun) {
  const std::string dir = test::scratch_dir("evaluations"), run = dir + "/run";
  const std::string base = small_demo_training(dir, run) + " --eval-every 1";
  std::string out;
  ASSERT_EQ(test::run_command(base + " --steps 2 2>&1", &out), 0) << out;
  ASSERT_EQ(test::run_command(base + " --steps 4 --resume 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> evaluations = test::jsonl_records(run + "/metrics.jsonl", "recall@1");
  ASSERT_EQ(evaluations.size(), 3u);
  const int64_t steps[] = {0, 2, 4}, epochs[] = {0, 1, 1};
  for (size_t i = 0; i < evaluations.size(); ++i) {
    const nlohmann::json& e = evaluations[i];
    EXPECT_EQ(e.at("step"), steps[i]) << e;
    EXPECT_EQ(e.at("epoch"), epochs[i]) << e;
    for (const char* key : {"map@r", "recall@10", "recall@50", "num_queries", "num_gallery", "images_dropped"})
      EXPECT_TRUE(e.contains(key)) << key << " missing in " << e;
  }
  EXPECT_NE(out.find("epoch 1: {"), std::string::npos) << out;
  const TrainingCurves c = read_training_curves(run + "/metrics.jsonl");
  EXPECT_EQ(c.steps, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(c.epochs, (std::vector<double>{0, 1, 1}));
  ASSERT_EQ(c.recalls.size(), 3u);
  EXPECT_EQ(c.recalls[2], evaluations[2].at("recall@1").get<double>());
  EXPECT_TRUE(fs::exists(run + "/loss.png") && fs::exists(run + "/recall_at_1.png"));
}

// A resumed run takes its model from its checkpoint: the --init file that started it may be gone (it was loaded
// again, and a missing one stopped the resume), and config.json keeps the file that started it, not an --init given
// with --resume (which is not used).
TEST(RunFiles, AResumedRunNeedsNotItsInitAndKeepsItsOrigin) {
  const std::string dir = test::scratch_dir("resume_init");
  std::string out;
  ASSERT_EQ(test::run_command(small_demo_training(dir, dir + "/a") + " --steps 1 --eval-every -1 2>&1", &out), 0)
      << out;
  const std::string init = dir + "/init.safetensors";
  fs::rename(dir + "/a/last.safetensors", init);
  const std::string b = small_demo_training(dir, dir + "/b") + " --eval-every -1 --init ";
  ASSERT_EQ(test::run_command(b + init + " --steps 1 2>&1", &out), 0) << out;
  fs::remove(init);
  ASSERT_EQ(test::run_command(b + dir + "/other.safetensors --steps 2 --resume 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("resumed from"), std::string::npos) << out;
  EXPECT_EQ(steps_of(dir + "/b/metrics.jsonl"), (std::vector<int64_t>{1, 2}));
  const auto config = nlohmann::json::parse(test::file_text(dir + "/b/config.json"));
  EXPECT_EQ(config["init"], init) << config.dump();
}

TEST(RunFiles, ANewRunSetsTheEarlierRunAside) {
  const std::string dir = test::scratch_dir("earlier"), run = dir + "/run";
  const std::string base = small_demo_training(dir, run);
  std::string out;
  ASSERT_EQ(test::run_command(base + " --steps 2 --eval-every 0", &out), 0) << out;  // evaluated: best and its plot
  const std::map<std::string, std::string> first = files_in(run);
  ASSERT_TRUE(first.count("best.safetensors") && first.count("recall_at_1.png")) << out;

  // A new run, not evaluated: every file of the first is in earlier-1, unchanged, and none is left beside the new
  // run's (a stale best.safetensors would be another run's model).
  ASSERT_EQ(test::run_command(base + " --steps 1 --eval-every -1", &out), 0) << out;
  EXPECT_NE(out.find(run + " held an earlier run: its files are now in " + run + "/earlier-1"), std::string::npos)
      << out;
  EXPECT_EQ(files_in(run + "/earlier-1"), first);
  const std::map<std::string, std::string> second = files_in(run);
  EXPECT_FALSE(second.count("best.safetensors"));
  EXPECT_FALSE(second.count("recall_at_1.png"));
  EXPECT_EQ(steps_of(run + "/metrics.jsonl"), (std::vector<int64_t>{1}));

  // The next one goes to earlier-2, and the first stays where it was.
  ASSERT_EQ(test::run_command(base + " --steps 1 --eval-every -1", &out), 0) << out;
  EXPECT_EQ(files_in(run + "/earlier-2"), second);
  EXPECT_EQ(files_in(run + "/earlier-1"), first);
}

}  // namespace
