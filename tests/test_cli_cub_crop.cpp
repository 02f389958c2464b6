// --crop-boxes on CUB, end to end: cropped by default (the SGML paper's protocol), whole images with
// `--crop-boxes false` (Divide & Conquer's authors, most metric-learning work). The run records its setting as
// auto, true or false; a resume with another setting is refused; `sgml eval` resolves the run's setting for the
// kind it evaluates unless told either way; a checkpoint of the runs before auto existed (a bool, false meaning
// "not given") still evaluates cropped on CUB; a --config file's bare false is refused as ambiguous.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/demo_generator.h"
#include "tests/support/test_support.h"
#include "training/checkpoint.h"

using namespace sgml;

namespace {

using test::sgml;

const char* kSmallRun =
    " --model resnet18 --image-size 32 --no-pretrained --steps 2 --classes-per-batch 4 --images-per-class 2"
    " --eval-every 0 --device cpu --workers 2 --loss metric";

// `sgml eval cub` of `checkpoint` with `options`: the crop it used, as its JSON result says; its printed
// configuration says the same and the note on whole images appears exactly when `expect_note`.
bool eval_crop(const std::string& data, const std::string& checkpoint, const std::string& options,
               const std::string& log, bool expect_note = false) {
  SCOPED_TRACE("sgml eval cub" + options);
  std::string json;
  const std::string eval = sgml() + " eval cub --data " + data + " --checkpoint " + checkpoint +
                           " --json --device cpu --no-nmi" + options;
  // In a subshell: the configuration (stderr) goes to the log, the JSON alone to `json`.
  EXPECT_EQ(test::run_command("(" + eval + " 2>" + log + ")", &json), 0) << json << test::file_text(log);
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (!j.is_object() || !j.contains("crop_boxes")) {
    ADD_FAILURE() << json;
    return false;
  }
  const bool crop = j.at("crop_boxes");
  const std::string err = test::file_text(log);
  EXPECT_NE(err.find(std::string("\n  crop-boxes = ") + (crop ? "true" : "false") + "\n"), std::string::npos) << err;
  EXPECT_EQ(err.find("although the run trained on images cropped") != std::string::npos, expect_note) << err;
  return crop;
}

// A CUB-layout tree of 4 + 4 classes of 3 views at 32 px in `data`.
void write_small_cub(const std::string& data) {
  DemoSpec spec = DemoSpec::defaults(DemoLayout::Cub);
  spec.train_items = spec.test_items = 4;
  spec.views_per_item = 3;
  spec.width = spec.height = 32;
  write_demo_dataset(data, DemoLayout::Cub, spec);
}

// `from` with its stored --crop-boxes replaced by `value`, saved as `to`; as a checkpoint of the runs before auto
// existed, without the description of its data (kept since).
void rewrite_crop_boxes(const std::string& from, const std::string& to, const nlohmann::json& value) {
  Checkpoint c = load_checkpoint(from);
  nlohmann::json config = c.config;
  config["crop_boxes"] = value;
  c.progress.data = DataDescription{};
  save_checkpoint(to, c.model, c.optimizer, config, c.progress);
}

}  // namespace

TEST(CliCubCrop, WholeImagesTrainRecordResumeAndEvaluate) {
  const std::string dir = test::scratch_dir("cli_cub_crop"), data = dir + "/data", run = dir + "/run";
  const test::RemovedAtExit remove{dir};
  write_small_cub(data);

  std::string out;
  ASSERT_EQ(
      test::run_command(
          test::sgml() + " train cub --crop-boxes false --data " + data + " --out " + run + kSmallRun + " 2>&1", &out),
      0)
      << out;
  EXPECT_NE(out.find("\n  crop-boxes = false\n"), std::string::npos) << out;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(run + "/config.json")).at("crop_boxes"), "false");
  // Training's evaluations on CUB carry NMI, as its papers report it (In-shop's do not: CliWorkflow).
  const std::vector<nlohmann::json> evaluations = test::jsonl_records(run + "/metrics.jsonl", "recall@1");
  ASSERT_FALSE(evaluations.empty());
  for (const nlohmann::json& e : evaluations) {
    ASSERT_TRUE(e.contains("nmi")) << e;
    EXPECT_GT(e["nmi"].get<double>(), 0.0) << e;
    EXPECT_LE(e["nmi"].get<double>(), 1.0) << e;
  }

  // Resumed without the option the images would be cropped: refused, saying both settings.
  EXPECT_NE(
      test::run_command(
          test::sgml() + " train cub --resume --steps 3 --data " + data + " --out " + run + kSmallRun + " 2>&1", &out),
      0)
      << out;
  EXPECT_NE(out.find("--crop-boxes: 'false' in the checkpoint, 'auto' now"), std::string::npos) << out;

  const std::string last = run + "/last.safetensors", log = dir + "/eval_stderr.txt";
  EXPECT_FALSE(eval_crop(data, last, "", log));                  // the run's whole images
  EXPECT_FALSE(eval_crop(data, last, " --crop-boxes auto", log));  // auto: as when not given
  EXPECT_TRUE(eval_crop(data, last, " --crop-boxes", log));

  // The run's setting as stored: auto and the bools of older runs (false then meant "not given") crop on CUB.
  const std::string other = dir + "/rewritten.safetensors";
  for (const nlohmann::json& stored : {nlohmann::json("auto"), nlohmann::json(false), nlohmann::json(true),
                                       nlohmann::json("true")}) {
    SCOPED_TRACE(stored.dump());
    rewrite_crop_boxes(last, other, stored);
    EXPECT_TRUE(eval_crop(data, other, "", log));
    EXPECT_FALSE(eval_crop(data, other, " --crop-boxes false", log, /*expect_note=*/true));
  }
  // An older run's checkpoint (false: not given) resumes as auto, and refuses whole images.
  const std::string old_run = dir + "/old_run";
  std::filesystem::create_directories(old_run);
  rewrite_crop_boxes(last, old_run + "/last.safetensors", false);
  const std::string resume =
      test::sgml() + " train cub --resume --data " + data + " --out " + old_run + kSmallRun + " --steps 3";
  EXPECT_NE(test::run_command(resume + " --crop-boxes false 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("--crop-boxes: 'auto' in the checkpoint, 'false' now"), std::string::npos) << out;
  EXPECT_EQ(test::run_command(resume + " 2>&1", &out), 0) << out;
  EXPECT_EQ(test::jsonl_records(old_run + "/metrics.jsonl", "loss").size(), 1u) << "step 3 alone";
  // embed reads files whole: of a run trained cropped it says so; of the whole-image run it says nothing.
  const std::string embed = test::sgml() + " embed --device cpu --out " + dir + "/e.npy " + data + "/images/*/*.jpg";
  ASSERT_EQ(test::run_command(embed + " --checkpoint " + old_run + "/last.safetensors 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("note: the run trained on cub images cropped to their bounding boxes; sgml embed reads each "
                     "file whole"),
            std::string::npos)
      << out;
  ASSERT_EQ(test::run_command(embed + " --checkpoint " + last + " 2>&1", &out), 0) << out;
  EXPECT_EQ(out.find("cropped to their bounding boxes"), std::string::npos) << out;
  // That run's checkpoint now records its boxes: a copy of the data with one box changed is refused.
  const std::string moved_box = dir + "/moved_box";
  std::filesystem::copy(data, moved_box, std::filesystem::copy_options::recursive);
  std::string boxes = test::file_text(moved_box + "/bounding_boxes.txt");
  const size_t first_end = boxes.find('\n'), height_at = boxes.rfind(' ', first_end) + 1;
  boxes.replace(height_at, first_end - height_at, "5.0");  // the first image's box: 5 pixels high
  test::write_file_text(moved_box + "/bounding_boxes.txt", boxes);
  const std::string resume_moved =
      test::sgml() + " train cub --resume --data " + moved_box + " --out " + old_run + kSmallRun + " --steps 4 2>&1";
  EXPECT_NE(test::run_command(resume_moved, &out), 0) << out;
  EXPECT_NE(out.find("trained on images cropped to 12 boxes, list "), std::string::npos) << out;
  EXPECT_NE(out.find("a run cannot go on on other crops"), std::string::npos) << out;

  rewrite_crop_boxes(last, other, "maybe");
  EXPECT_NE(test::run_command(
                test::sgml() + " eval cub --data " + data + " --checkpoint " + other + " --device cpu 2>&1", &out),
            0)
      << out;
  for (const std::string part : {other, std::string("'maybe'"), std::string("expected auto, true or false")})
    EXPECT_NE(out.find(part), std::string::npos) << "'" << part << "' not in:\n" << out;

  // A cache prepared cropped (CUB's default) is not used for whole images, and says why.
  ASSERT_EQ(test::run_command(test::sgml() + " prepare cub --data " + data + " --size 32 2>&1", &out), 0) << out;
  eval_crop(data, last, "", log);
  EXPECT_NE(test::file_text(log).find("other bounding boxes"), std::string::npos) << test::file_text(log);
  eval_crop(data, last, " --crop-boxes", log);
  EXPECT_NE(test::file_text(log).find("decoded-image cache: "), std::string::npos) << test::file_text(log);
}

// In a --config file a bare false is ambiguous (older runs' config.json wrote it for "not given", when CUB was
// cropped all the same): refused, naming the file and the words to write; "false" in words is taken.
TEST(CliCubCrop, ConfigFileSaysCropInWords) {
  const std::string dir = test::scratch_dir("cli_cub_crop_config"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  write_small_cub(data);
  const std::string config = dir + "/config.json";
  std::string out;
  std::ofstream(config) << R"({"crop_boxes": false})";
  EXPECT_NE(test::run_command(test::sgml() + " train cub --config " + config + " --data " + data + " --out " + dir +
                                  "/run" + kSmallRun + " 2>&1", &out), 0) << out;
  for (const std::string part : {config, std::string("\"crop_boxes\": false is ambiguous"), std::string("\"auto\"")})
    EXPECT_NE(out.find(part), std::string::npos) << "'" << part << "' not in:\n" << out;

  std::ofstream(config) << R"({"crop_boxes": "false"})";
  ASSERT_EQ(test::run_command(test::sgml() + " train cub --config " + config + " --data " + data + " --out " + dir +
                                  "/run" + kSmallRun + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("\n  crop-boxes = false\n"), std::string::npos) << out;
}

// Divide & Conquer on CUB (configs/dnc-cub.json) trains on whole images, as its authors read CUB; the command line
// still says otherwise.
TEST(CliCubCrop, DivideAndConquerTrainsOnWholeImages) {
  const std::string dir = test::scratch_dir("cli_cub_crop_dnc"), data = dir + "/data";
  const test::RemovedAtExit remove{dir};
  write_small_cub(data);
  const std::string train = test::sgml() + " train cub --method dnc --data " + data + " --no-pretrained --model"
                            " resnet18 --image-size 32 --learners 2 --classes-per-batch 2 --images-per-class 2"
                            " --steps 2 --eval-every -1 --device cpu --workers 2";
  std::string out;
  ASSERT_EQ(test::run_command(train + " --out " + dir + "/run 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("\n  crop-boxes = false\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n  learners = 2\n"), std::string::npos) << out;
  ASSERT_EQ(test::run_command(train + " --crop-boxes --out " + dir + "/cropped 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("\n  crop-boxes = true\n"), std::string::npos) << out;
}
