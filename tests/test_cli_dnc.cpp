// `sgml train demo --method dnc` (Divide & Conquer, training/dnc.h) end to end on the CPU: ResNet-18 at 32 px from
// scratch, 2 learners, re-clustering every epoch, dropout 0.05, a constant learning rate (--steps would stretch a
// cosine one).
// The re-clusterings are logged with sizes that add up; a run interrupted mid-epoch or at an epoch's end (before a
// re-clustering) and resumed gives bitwise the same losses, clusters and parameters as the uninterrupted run;
// `sgml eval` reads the run's checkpoint; wrong combinations are refused with clear messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/dataset.h"
#include "engine/safetensors.h"
#include "tests/support/small_inshop.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

using test::run_cli;
using test::sgml;

struct Log {
  std::vector<double> losses;
  std::vector<nlohmann::json> reclusterings;
};

Log read_log(const std::string& path) {
  Log log;
  for (const nlohmann::json& j : test::jsonl_records(path, "loss")) log.losses.push_back(j.at("loss"));
  log.reclusterings = test::jsonl_records(path, "recluster");
  return log;
}

// The built-in demo data in DIR/data (written by `sgml info demo`).
std::string demo_data(const std::string& dir) {
  std::string out;
  EXPECT_EQ(run_cli(sgml() + " info demo --data " + dir + "/data 2>&1", &out), 0) << out;
  return dir + "/data";
}

// The small D&C run the tests start from: ResNet-18 at 32 px from scratch, 2 learners re-clustered every epoch, 2
// epochs at a constant learning rate; `options` go last.
std::string small_run(const std::string& data, const std::string& options) {
  return sgml() + " train demo --method dnc --data " + data +
         " --model resnet18 --image-size 32 --no-pretrained --learners 2 --embedding-dim 16 --recluster-every 1"
         " --classes-per-batch 6 --images-per-class 2 --eval-every -1 --device cpu --workers 2 --seed 4 --epochs 2"
         " --lr-schedule constant" + options;
}

// `base` stopped after `stop` steps in DIR/split<stop>, then resumed with `resume_options`: the losses, the
// re-clusterings (each logged once) and the last parameters are bitwise those of the uninterrupted run in full_dir.
void expect_resume_is_exact(const std::string& base, int64_t stop, const std::string& resume_options,
                            const std::string& dir, const std::string& full_dir) {
  SCOPED_TRACE(testing::Message() << "stopped after step " << stop);
  const std::string split = dir + "/split" + std::to_string(stop);
  std::string out;
  ASSERT_EQ(run_cli(base + " --steps " + std::to_string(stop) + " --out " + split + " 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(base + resume_options + " --resume --out " + split + " 2>&1", &out), 0) << out;
  const Log full = read_log(full_dir + "/metrics.jsonl"), resumed = read_log(split + "/metrics.jsonl");
  ASSERT_EQ(resumed.losses.size(), full.losses.size());
  for (size_t i = 0; i < full.losses.size(); ++i) EXPECT_EQ(resumed.losses[i], full.losses[i]) << "step " << i + 1;
  ASSERT_EQ(resumed.reclusterings.size(), full.reclusterings.size()) << "each re-clustering logged once";
  for (size_t r = 0; r < full.reclusterings.size(); ++r)
    for (const char* key : {"step", "cluster_sizes", "epoch_steps"})
      EXPECT_EQ(resumed.reclusterings[r].at(key), full.reclusterings[r].at(key)) << key;
  const TensorMap a = load_safetensors(full_dir + "/last.safetensors");
  const TensorMap b = load_safetensors(split + "/last.safetensors");
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    if (t.dtype() == DType::F32) EXPECT_EQ(t.to_vector(), b.at(name).to_vector()) << name;
  }
}

TEST(CliDnc, TrainsReclustersAndResumesExactly) {
  const std::string dir = test::scratch_dir("cli_dnc");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir), base = small_run(data, " --dropout 0.05");
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  std::ifstream config_file(dir + "/full/config.json");
  const nlohmann::json config = nlohmann::json::parse(config_file);
  EXPECT_EQ(config.at("loss"), "margin") << "configs/dnc-demo.json applies over configs/demo.json";
  EXPECT_EQ(config.at("sampler"), "distance");
  EXPECT_EQ(config.at("model"), "resnet18") << "configs/demo.json still applies";
  EXPECT_EQ(config.at("learners"), 2) << "the command line over both";
  const Log full = read_log(dir + "/full/metrics.jsonl");
  ASSERT_EQ(full.reclusterings.size(), 2u) << "epochs 1 and 2";
  ASSERT_EQ(full.losses.size() % 2, 0u);
  const size_t per_epoch = full.losses.size() / 2;
  for (const nlohmann::json& r : full.reclusterings) {
    const std::vector<int> sizes = r.at("cluster_sizes"), kept = r.at("images_kept");
    ASSERT_EQ(sizes.size(), 2u);
    EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 700) << "every demo training image: " << r.dump();
    for (size_t k = 0; k < 2; ++k) EXPECT_LE(kept[k], sizes[k]);
    EXPECT_GE(r.at("reassignment_cost").get<double>(), 0.0);
  }
  EXPECT_EQ(full.reclusterings[1].at("step"), int(per_epoch) + 1);

  // Interrupted mid-epoch 2 (after its re-clustering), and at the end of epoch 1 (before it), then resumed.
  for (const int64_t stop : {int64_t(per_epoch) + 3, int64_t(per_epoch)})
    expect_resume_is_exact(base, stop, "", dir, dir + "/full");
  ASSERT_EQ(run_cli(sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint " + dir +
                    "/full/last.safetensors 2>&1", &out), 0) << out;

  EXPECT_NE(run_cli(base + " --out " + dir + "/bad --loss sgml --sampling image --triplets-per-batch 4 2>&1", &out), 0);
  EXPECT_NE(out.find("--method dnc needs --sampling batch"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --out " + dir + "/bad --learners 4 --embedding-dim 5 2>&1", &out), 0);
  EXPECT_NE(out.find("--embedding-dim 5 cannot be split into --learners 4"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --out " + dir + "/bad --method divide 2>&1", &out), 0);
  EXPECT_NE(out.find("--method"), std::string::npos) << out;
}

// The authors' transforms (--train-crop random-resized, --eval-resize R): a run with them re-clusters on features of
// the Resize + CenterCrop transform and resumes bitwise across a re-clustering; the decoded-image cache is left
// unused with the reason; `sgml eval` takes the run's evaluation resize (or the one given); sizes that cannot work
// and a resume that changes a transform are refused.
TEST(CliDnc, AuthorsTransformsTrainResumeAndEvaluate) {
  const std::string dir = test::scratch_dir("cli_dnc_transforms");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir), base = small_run(data, " --train-crop random-resized --eval-resize 37");
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " prepare demo --data " + data + " --size 32 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  for (const char* line : {"  train-crop = random-resized\n", "  eval-resize = 37\n",
                           "decoded-image cache not used: --train-crop random-resized"})
    EXPECT_NE(out.find(line), std::string::npos) << line << " in\n" << out;
  const Log full = read_log(dir + "/full/metrics.jsonl");
  ASSERT_EQ(full.reclusterings.size(), 2u);
  expect_resume_is_exact(base, int64_t(full.losses.size() / 2) + 1, "", dir, dir + "/full");

  const std::string eval = sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint " + dir +
                           "/full/last.safetensors";
  ASSERT_EQ(run_cli(eval + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("  eval-resize = 37\n"), std::string::npos) << out;
  ASSERT_EQ(run_cli(eval + " --eval-resize 0 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("  eval-resize = 0\n"), std::string::npos) << out;
  EXPECT_NE(run_cli(eval + " --eval-resize 20 2>&1", &out), 0);
  EXPECT_NE(out.find("evaluation resize 20 (--eval-resize) is below the image size 32"), std::string::npos) << out;

  EXPECT_NE(run_cli(base + " --train-crop sgml --resume --out " + dir + "/full 2>&1", &out), 0);
  EXPECT_NE(out.find("--train-crop: 'random-resized' in the checkpoint, 'sgml' now"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --eval-resize 20 --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--eval-resize 20 is below --image-size 32"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --train-crop random --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--train-crop"), std::string::npos) << out;
}

// --batches-per-epoch max (the authors' epochs: rounds of one batch per cluster, as many as the largest cluster has
// batches): each re-clustering sets its epochs' length, logged with it; a run stopped mid-epoch or at an epoch's end
// and resumed is bitwise the uninterrupted one; the schedules laid out in steps are refused.
TEST(CliDnc, EpochsOfTheLargestClusterResumeExactly) {
  const std::string dir = test::scratch_dir("cli_dnc_max");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir), base = small_run(data, " --batches-per-epoch max");
  std::string out;
  // Epoch 1's length, from its clustering's record; then the run to 4 steps into epoch 2 (after its re-clustering).
  ASSERT_EQ(run_cli(base + " --steps 1 --out " + dir + "/probe 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> probe = test::jsonl_records(dir + "/probe/metrics.jsonl", "recluster");
  ASSERT_EQ(probe.size(), 1u);
  const int64_t length = probe[0].at("epoch_steps");
  EXPECT_EQ(length % 2, 0) << "whole rounds of the 2 clusters";
  const std::string steps = " --steps " + std::to_string(length + 4);
  ASSERT_EQ(run_cli(base + steps + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const Log full = read_log(dir + "/full/metrics.jsonl");
  const std::vector<nlohmann::json> records = test::jsonl_records(dir + "/full/metrics.jsonl", "loss");
  ASSERT_EQ(full.reclusterings.size(), 2u);
  EXPECT_EQ(full.reclusterings[0].at("epoch_steps"), length);
  EXPECT_EQ(full.reclusterings[1].at("step"), length + 1) << "epoch 2 starts after epoch 1's length";
  int64_t in_epoch1 = 0;
  for (const nlohmann::json& r : records) in_epoch1 += r.at("epoch") == 1;
  EXPECT_EQ(in_epoch1, length);

  for (const int64_t stop : {length + 2, length}) expect_resume_is_exact(base, stop, steps, dir, dir + "/full");

  EXPECT_NE(run_cli(base + " --lr-schedule cosine --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--lr-schedule cosine needs epochs of one length"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --method sgml --loss metric --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--batches-per-epoch max sets the length of Divide & Conquer's clustered epochs"),
            std::string::npos) << out;
}

// With the authors' epoch lengths (--batches-per-epoch max), an epoch without clusters (fine-tuning, one learner) has
// the training images over the batch size, rounded down, as their plain loader: the 700 demo images in batches of
// 6 x 2 give 58 steps, where the batch-wise epoch has ceil(100 classes / 6) = 17. A run stopped in the fine-tuning
// epoch and resumed is bitwise the uninterrupted one.
TEST(CliDnc, EpochsWithoutClustersHaveTheAuthorsLength) {
  const std::string dir = test::scratch_dir("cli_dnc_plain_epochs");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir);
  const auto steps_in_epoch = [](const std::string& run, int epoch) {
    int64_t n = 0;
    for (const nlohmann::json& r : test::jsonl_records(run + "/metrics.jsonl", "loss")) n += r.at("epoch") == epoch;
    return n;
  };
  const std::string finetune = small_run(data, " --batches-per-epoch max --finetune-epoch 1");
  std::string out;
  ASSERT_EQ(run_cli(finetune + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const Log full = read_log(dir + "/full/metrics.jsonl");
  ASSERT_EQ(full.reclusterings.size(), 1u) << "epoch 1 clustered, epoch 2 fine-tunes";
  const int64_t clustered = full.reclusterings[0].at("epoch_steps");
  EXPECT_EQ(steps_in_epoch(dir + "/full", 1), clustered);
  EXPECT_EQ(steps_in_epoch(dir + "/full", 2), 58);
  // The progress lines' total follows the fine-tuning epoch's length: the last says step N/N.
  const int64_t total = clustered + 58;
  const std::string last_line = "step " + std::to_string(total) + "/" + std::to_string(total) + " ";
  EXPECT_NE(out.find(last_line), std::string::npos) << last_line << " in\n" << out;
  expect_resume_is_exact(finetune, clustered + 5, "", dir, dir + "/full");

  ASSERT_EQ(run_cli(small_run(data, " --batches-per-epoch max --learners 1 --epochs 1") + " --out " + dir +
                        "/one 2>&1", &out), 0) << out;
  EXPECT_EQ(steps_in_epoch(dir + "/one", 1), 58);
  EXPECT_TRUE(test::jsonl_records(dir + "/one/metrics.jsonl", "recluster").empty());
  ASSERT_EQ(run_cli(small_run(data, " --learners 1 --epochs 1") + " --out " + dir + "/plain 2>&1", &out), 0) << out;
  EXPECT_EQ(steps_in_epoch(dir + "/plain", 1), 17);
}

// A learner whose cluster keeps no images (no two classes with two images each) is said on stderr at that
// re-clustering, and only then: checked against the images_kept of each logged re-clustering. 4 learners on 6
// classes of 4 images leave some idle at most clusterings.
TEST(CliDnc, IdleLearnersAreNoted) {
  const std::string data = test::small_inshop("cli_dnc_idle"), run = data + "/run";
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train deepfashion --method dnc --data " + data + " --out " + run +
                        " --model resnet18 --image-size 32 --no-pretrained --learners 4 --embedding-dim 16"
                        " --recluster-every 1 --classes-per-batch 2 --images-per-class 2 --eval-every -1 --device cpu"
                        " --workers 2 --epochs 4 --lr-schedule constant --full-embedding-epoch 0 --finetune-epoch 0"
                        " --frozen-bn false 2>&1",
                    &out),
            0)
      << out;
  const std::vector<nlohmann::json> reclusterings = test::jsonl_records(run + "/metrics.jsonl", "recluster");
  ASSERT_EQ(reclusterings.size(), 4u) << out;
  for (const nlohmann::json& r : reclusterings) {
    const std::vector<int> kept = r.at("images_kept");
    const bool idle = std::count(kept.begin(), kept.end(), 0) > 0;
    const std::string note = "note: epoch " + std::to_string(r.at("epoch").get<int>()) + ": learner";
    EXPECT_EQ(out.find(note) != std::string::npos, idle) << r << "\n" << out;
  }
}

// Every dataset has Divide & Conquer's defaults: `--method dnc` without them would train SGML's loss with one learner
// and no word (demo-cub once did). `sgml train DATASET --method dnc --help` names the file each default came from.
TEST(CliDnc, EveryDatasetHasItsDivideAndConquerDefaults) {
  for (DatasetKind kind : {DatasetKind::Cub, DatasetKind::DeepFashion, DatasetKind::Demo, DatasetKind::DemoCub,
                           DatasetKind::Sop, DatasetKind::Cars}) {
    const std::string name = dataset_kind_name(kind);
    SCOPED_TRACE(name);
    std::string out;
    ASSERT_EQ(run_cli(sgml() + " train " + name + " --method dnc --help 2>&1", &out), 0) << out;
    const std::string from = "from configs/dnc-" + name + ".json)";
    for (const std::string option : {"--loss", "--learners", "--recluster-every", "--embedding-dim"}) {
      const size_t at = out.find("\n  " + option + " ");
      ASSERT_NE(at, std::string::npos) << option << " in\n" << out;
      const std::string line = out.substr(at + 1, out.find('\n', at + 1) - at - 1);
      EXPECT_NE(line.find(from), std::string::npos) << line;
    }
  }
}

// `sgml train deepfashion --method dnc` applies configs/dnc-deepfashion.json (the authors' values: their head and
// epoch length among them) and trains with it, here shrunk to a small generated In-shop-layout dataset.
TEST(CliDnc, AuthorsConfigurationTrainsOnInShop) {
  SGML_SKIP_WITHOUT_TORCH();  // the dataset generator is the PyTorch reference's
  const std::string dir = test::scratch_dir("cli_dnc_inshop"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  test::run_reference("sgml_reference.py", {"make-data", data});
  std::string out;
  ASSERT_EQ(run_cli(sgml() + " train deepfashion --method dnc --data " + data + " --no-pretrained --model resnet18"
                    " --image-size 32 --learners 2 --classes-per-batch 3 --images-per-class 2 --steps 3"
                    " --eval-every -1 --device cpu --workers 2 --out " + dir + "/run 2>&1", &out), 0) << out;
  for (const char* line : {"  head = linear\n", "  batches-per-epoch = max\n", "  loss = margin\n",
                           "  frozen-bn = true\n", "  embedding-dim = 128\n", "  lr-schedule = constant\n",
                           "  train-crop = random-resized\n", "  eval-resize = 256\n"})
    EXPECT_NE(out.find(line), std::string::npos) << line << " in\n" << out;
  const std::vector<nlohmann::json> steps = test::jsonl_records(dir + "/run/metrics.jsonl", "loss");
  EXPECT_EQ(steps.size(), 3u);
  const TensorMap saved = load_safetensors(dir + "/run/last.safetensors");
  ASSERT_TRUE(saved.count("head.emb.weight"));
  EXPECT_EQ(saved.at("head.emb.weight").shape(), (std::vector<int64_t>{128, 512}));
  EXPECT_FALSE(saved.count("head.fc.weight"));
}

// The re-clustering's features come from the decoded-image cache where training's images do: the same pixels as
// the files' (the clusters equal those of a run without the cache; its random crops differ, the cache's squares
// being 32 px of the 64 px images), and an image gone from disk since `sgml prepare` is served to the clustering
// too (it stopped the run there).
TEST(CliDnc, ClusteringReadsTheDecodedImageCache) {
  const std::string dir = test::scratch_dir("cli_dnc_cache");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir), base = small_run(data, " --steps 3");
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/files 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(sgml() + " prepare demo --data " + data + " --size 32 2>&1", &out), 0) << out;
  const Dataset d = load_dataset("demo", data);
  ASSERT_TRUE(std::filesystem::remove(d.train[0].path)) << d.train[0].path;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/cache 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("gone from disk since sgml prepare"), std::string::npos) << out;
  const Log files = read_log(dir + "/files/metrics.jsonl"), cache = read_log(dir + "/cache/metrics.jsonl");
  ASSERT_EQ(cache.reclusterings.size(), 1u);
  EXPECT_EQ(cache.reclusterings, files.reclusterings);
  EXPECT_EQ(cache.losses.size(), files.losses.size());
}

// The authors' head (--head linear): trains, is saved without fc and attribute layers, and `sgml eval` recognises it
// from the checkpoint; the losses and the feature it lacks are refused before training.
TEST(CliDnc, LinearHeadTrainsAndEvaluates) {
  const std::string dir = test::scratch_dir("cli_dnc_linear");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir), base = small_run(data, " --head linear");
  std::string out;
  ASSERT_EQ(run_cli(base + " --steps 4 --out " + dir + "/run 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> steps = test::jsonl_records(dir + "/run/metrics.jsonl", "loss");
  ASSERT_EQ(steps.size(), 4u);
  for (const nlohmann::json& s : steps) {
    EXPECT_GT(s.at("metric_loss").get<double>(), 0.0);
    EXPECT_FALSE(s.contains("bce_loss")) << "no attribute branch: " << s.dump();
  }
  const TensorMap saved = load_safetensors(dir + "/run/last.safetensors");
  EXPECT_FALSE(saved.count("head.fc.weight"));
  EXPECT_FALSE(saved.count("head.attr.weight"));
  ASSERT_TRUE(saved.count("head.emb.weight"));
  EXPECT_EQ(saved.at("head.emb.weight").shape(), (std::vector<int64_t>{16, 512}));
  ASSERT_EQ(run_cli(sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint " + dir +
                    "/run/last.safetensors 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("Recall@1 "), std::string::npos) << out;

  EXPECT_NE(run_cli(base + " --steps 1 --loss sgml --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--head linear has no attribute branch, and --loss sgml needs one"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --steps 1 --eval-feature fc --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--head linear has no fc feature"), std::string::npos) << out;
}

// The learned masks of the authors' TPAMI follow-up (--learner-masks learned): the masks start at ones (so the first
// step's orthogonality term is lambda, every cosine 1), learn during the clustered epoch, each learner's its own, and
// stay frozen after --full-embedding-epoch epochs (no term logged then); a run stopped mid-epoch or at the epoch's end
// and resumed is bitwise the uninterrupted one; eval reads the checkpoint without the masks; options that a run does
// not use say so.
TEST(CliDnc, LearnedMasksLearnFreezeResumeAndEvaluate) {
  const std::string dir = test::scratch_dir("cli_dnc_masks");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir),
                    base = small_run(data, " --head linear --learner-masks learned --mask-lambda 0.1"
                                           " --full-embedding-epoch 1");  // after 1 epoch
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const std::vector<nlohmann::json> steps = test::jsonl_records(dir + "/full/metrics.jsonl", "loss");
  ASSERT_EQ(steps.size() % 2, 0u);
  const size_t per_epoch = steps.size() / 2;
  ASSERT_GE(per_epoch, 3u);
  EXPECT_NEAR(steps[0].at("mask_loss").get<double>(), 0.1, 1e-7) << "masks of ones: every cosine is 1";
  EXPECT_LT(steps[per_epoch - 1].at("mask_loss").get<double>(), steps[0].at("mask_loss").get<double>())
      << "the term pushes the masks apart";
  for (size_t i = per_epoch; i < steps.size(); ++i)
    EXPECT_EQ(steps[i].at("mask_loss").get<double>(), 0.0) << "whole embedding after epoch 1: no term";

  expect_resume_is_exact(base, int64_t(per_epoch), "", dir, dir + "/full");      // at the freeze
  expect_resume_is_exact(base, int64_t(per_epoch) - 2, "", dir, dir + "/full");  // mid-epoch, masks learning
  const std::string epoch1 = dir + "/epoch1";
  ASSERT_EQ(run_cli(base + " --steps " + std::to_string(per_epoch) + " --out " + epoch1 + " 2>&1", &out), 0) << out;
  const Tensor learned = load_safetensors(epoch1 + "/last.safetensors").at("loss.learner_masks");
  const Tensor last = load_safetensors(dir + "/full/last.safetensors").at("loss.learner_masks");
  ASSERT_EQ(learned.shape(), (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(last.to_vector(), learned.to_vector()) << "frozen from the full-embedding epoch on";
  const std::vector<float> m = learned.to_vector();
  int moved = 0, apart = 0;
  for (int j = 0; j < 16; ++j) {
    moved += (m[size_t(j)] != 1.0f) + (m[size_t(16 + j)] != 1.0f);
    apart += m[size_t(j)] != m[size_t(16 + j)];
  }
  EXPECT_EQ(moved, 32) << "every mask value learned";
  EXPECT_GT(apart, 8) << "the two learners' masks differ";

  ASSERT_EQ(run_cli(sgml() + " eval demo --data " + data + " --no-nmi --device cpu --checkpoint " + dir +
                    "/full/last.safetensors 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("Recall@1 "), std::string::npos) << out;

  ASSERT_EQ(run_cli(small_run(data, " --head linear --mask-lambda 0.5") + " --steps 1 --out " + dir + "/slices 2>&1",
                    &out), 0) << out;
  EXPECT_NE(out.find("--mask-lambda changes nothing in this run: it is used only with --method dnc --learner-masks "
                     "learned"), std::string::npos) << out;
  EXPECT_FALSE(load_safetensors(dir + "/slices/last.safetensors").count("loss.learner_masks"));
  EXPECT_NE(run_cli(base + " --learner-masks mixed --steps 1 --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--learner-masks"), std::string::npos) << out;
}

// --class-balance adaptive (the authors' 'adaptbalanced' sampler) reaches the clusters' batches: with 2 classes x
// 30 images, more than any demo class holds, a fixed batch repeats images of its 2 classes (all pairs but the
// cross-class ones positive), while an adaptive one takes each class's images once and fills the batch with other
// images (far fewer positive pairs).
TEST(CliDnc, AdaptiveClassBalanceFillsShortClassesWithOtherImages) {
  const std::string dir = test::scratch_dir("cli_dnc_class_balance");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir),
                    base = small_run(data, " --head linear --classes-per-batch 2 --images-per-class 30 --steps 1");
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/fixed 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(base + " --class-balance adaptive --out " + dir + "/adaptive 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("  class-balance = adaptive\n"), std::string::npos) << out;
  const int64_t fixed = test::jsonl_records(dir + "/fixed/metrics.jsonl", "loss").at(0).at("positive_pairs"),
                adaptive = test::jsonl_records(dir + "/adaptive/metrics.jsonl", "loss").at(0).at("positive_pairs");
  EXPECT_EQ(fixed, 2 * 30 * 29) << "2 classes of 30 (ordered pairs)";
  EXPECT_LT(adaptive, fixed / 4);
  EXPECT_GT(adaptive, 0);
}

// --stop-reclustering end to end: the hierarchy of 1, 2, 4 learners (re-clustering every epoch) stops at the
// clustering that reaches 4 (epoch 3): 3 clusterings in 5 epochs, where without it there are 5; a resume after the
// stop continues bitwise.
TEST(CliDnc, StopReclusteringEndsTheClusteringsAtK) {
  const std::string dir = test::scratch_dir("cli_dnc_stop");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir),
                    base = small_run(data, " --head linear --division hierarchical --learners 4 --epochs 5"
                                           " --stop-reclustering");
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const Log full = read_log(dir + "/full/metrics.jsonl");
  ASSERT_EQ(full.reclusterings.size(), 3u);
  EXPECT_EQ(full.reclusterings.back().at("epoch"), 3);
  EXPECT_EQ(full.reclusterings.back().at("learners"), 4);
  ASSERT_EQ(full.losses.size() % 5, 0u);
  expect_resume_is_exact(base, int64_t(full.losses.size() / 5) * 4 + 1, "", dir, dir + "/full");
  ASSERT_EQ(run_cli(small_run(data, " --head linear --division hierarchical --learners 4 --epochs 5 --out " + dir +
                                        "/going_on 2>&1"), &out), 0) << out;
  EXPECT_EQ(read_log(dir + "/going_on/metrics.jsonl").reclusterings.size(), 5u);
}

// The follow-up's hierarchy (--division hierarchical) with learned masks and --freeze-backbone-epochs 1: clusterings
// at epochs 1, 3 and 5 give 1, 2 and 4 learners (the last two dividing each cluster in two); a learner's mask is
// learned only once it exists (the others stay at ones); the backbone keeps its values through each epoch right
// after a re-clustering while the embedding layer learns; a run stopped before or after a division and resumed is
// bitwise the uninterrupted one.
TEST(CliDnc, HierarchicalDivisionWithMasksAndFrozenBackboneResumesExactly) {
  const std::string dir = test::scratch_dir("cli_dnc_hierarchy");
  const test::RemovedAtExit remove{dir};
  const std::string data = demo_data(dir),
                    base = small_run(data, " --head linear --learner-masks learned --division hierarchical"
                                           " --learners 4 --recluster-every 2 --freeze-backbone-epochs 1 --epochs 6");
  std::string out;
  ASSERT_EQ(run_cli(base + " --out " + dir + "/full 2>&1", &out), 0) << out;
  const Log full = read_log(dir + "/full/metrics.jsonl");
  ASSERT_EQ(full.reclusterings.size(), 3u);
  ASSERT_EQ(full.losses.size() % 6, 0u);
  const int64_t per_epoch = int64_t(full.losses.size() / 6);
  const int want_learners[] = {1, 2, 4};
  for (size_t r = 0; r < 3; ++r) {
    const nlohmann::json& rec = full.reclusterings[r];
    EXPECT_EQ(rec.at("epoch"), int(2 * r + 1));
    EXPECT_EQ(rec.at("learners"), want_learners[r]);
    const std::vector<int> sizes = rec.at("cluster_sizes");
    EXPECT_EQ(sizes.size(), size_t(want_learners[r]));
    EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 700) << rec.dump();
    EXPECT_EQ(rec.contains("division_trials"), r > 0) << rec.dump();
    if (r > 0) EXPECT_EQ(rec.at("division_trials").size(), size_t(want_learners[r] / 2));
  }

  expect_resume_is_exact(base, 2 * per_epoch, "", dir, dir + "/full");      // before the first division
  expect_resume_is_exact(base, 2 * per_epoch + 2, "", dir, dir + "/full");  // after it, backbone frozen
  auto state_after = [&](int64_t steps) {
    const std::string run = dir + "/steps" + std::to_string(steps);
    EXPECT_EQ(run_cli(base + " --steps " + std::to_string(steps) + " --out " + run + " 2>&1", &out), 0) << out;
    return load_safetensors(run + "/last.safetensors");
  };
  const TensorMap e2 = state_after(2 * per_epoch), e3 = state_after(3 * per_epoch);
  const TensorMap e6 = load_safetensors(dir + "/full/last.safetensors");
  int backbone = 0, moved_later = 0;
  for (const auto& [name, t] : e2) {
    const bool buffer = name.find("running_") != std::string::npos || name.find("num_batches") != std::string::npos;
    if (buffer || name.rfind("head.", 0) == 0 || name.rfind("loss.", 0) == 0 || name.rfind("optimizer.", 0) == 0)
      continue;
    ++backbone;
    EXPECT_EQ(t.to_vector(), e3.at(name).to_vector()) << name << ": frozen in epoch 3";
    moved_later += t.to_vector() != e6.at(name).to_vector();
  }
  EXPECT_GT(backbone, 40);
  EXPECT_EQ(moved_later, backbone) << "every backbone parameter learns in the epochs that are not frozen";
  EXPECT_NE(e2.at("head.emb.weight").to_vector(), e3.at("head.emb.weight").to_vector()) << "the embedding learns";

  auto mask_rows_moved = [](const Tensor& masks) {
    std::vector<bool> moved;
    const std::vector<float> m = masks.to_vector();
    for (int64_t r = 0; r < masks.dim(0); ++r) {
      bool any = false;
      for (int64_t j = 0; j < masks.dim(1); ++j) any = any || m[size_t(r * masks.dim(1) + j)] != 1.0f;
      moved.push_back(any);
    }
    return moved;
  };
  EXPECT_EQ(mask_rows_moved(e2.at("loss.learner_masks")), (std::vector<bool>{true, false, false, false}));
  EXPECT_EQ(mask_rows_moved(e3.at("loss.learner_masks")), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(mask_rows_moved(e6.at("loss.learner_masks")), (std::vector<bool>{true, true, true, true}));
  const std::vector<float> m3 = e3.at("loss.learner_masks").to_vector();
  EXPECT_NE(std::vector<float>(m3.begin(), m3.begin() + 16), std::vector<float>(m3.begin() + 16, m3.begin() + 32))
      << "the two children of the first learner have parted";

  // The division copies the parent's mask: resumed before it with the masks' rate at 0 (an allowed change), both
  // children hold exactly the parent's mask after it.
  const std::string copy = dir + "/copy";
  ASSERT_EQ(run_cli(base + " --steps " + std::to_string(2 * per_epoch) + " --out " + copy + " 2>&1", &out), 0) << out;
  ASSERT_EQ(run_cli(base + " --steps " + std::to_string(2 * per_epoch + 2) + " --mask-lr-mult 0 --resume --out " +
                    copy + " 2>&1", &out), 0) << out;
  const std::vector<float> parent = e2.at("loss.learner_masks").to_vector(),
                           children = load_safetensors(copy + "/last.safetensors").at("loss.learner_masks").to_vector();
  ASSERT_EQ(children.size(), 64u);
  EXPECT_EQ(std::vector<float>(children.begin(), children.begin() + 16),
            std::vector<float>(parent.begin(), parent.begin() + 16));
  EXPECT_EQ(std::vector<float>(children.begin() + 16, children.begin() + 32),
            std::vector<float>(parent.begin(), parent.begin() + 16)) << "learner 1 starts as a copy of learner 0";
  EXPECT_EQ(std::vector<float>(children.begin() + 32, children.end()), std::vector<float>(32, 1.0f));
  // The masks are new parameters to Adam from the division on (the authors' new param group): their step count
  // restarted there, 2 steps before the end, while the rest counts every step.
  const TensorMap copied = load_safetensors(copy + "/last.safetensors");
  ASSERT_TRUE(copied.count("optimizer.adam.group_steps"));
  const Tensor group_steps = copied.at("optimizer.adam.group_steps");
  ASSERT_EQ(group_steps.numel(), 2) << "the backbone's group and the masks' group";
  EXPECT_EQ(group_steps.data_i64()[0], 2 * per_epoch + 2) << "the backbone's group";
  EXPECT_EQ(group_steps.data_i64()[1], 2) << "the masks' group, restarted at the division";

  EXPECT_NE(run_cli(base + " --learners 6 --steps 1 --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--learners must be a power of two, got 6"), std::string::npos) << out;
  EXPECT_NE(run_cli(base + " --freeze-backbone-epochs 2 --steps 1 --out " + dir + "/bad 2>&1", &out), 0);
  EXPECT_NE(out.find("--freeze-backbone-epochs 2 must be below --recluster-every 2"), std::string::npos) << out;
}

}  // namespace
