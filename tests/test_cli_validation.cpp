// Options and configurations a user can get wrong, through the sgml program: non-finite or out-of-range numbers,
// integers that used to wrap, counts that hung or aborted, --export naming, --resume with other options, wrongly
// typed stored configurations, output folders that cannot be made, and a loss that becomes non-finite. Each case
// must end with a non-zero status and a message naming the option, file or field, never a hang, a crash or library
// text ("internal error" / "unexpected error"). Models are ResNet-18 at 32 px on the demo data: a few seconds each.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "data/dataset.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

namespace fs = std::filesystem;

using test::sgml;

// The demo dataset, generated once and shared by these tests (the generator writes it atomically).
std::string demo_data() {
  const std::string dir = std::string(SGML_BINARY_DIR) + "/test_scratch/cli_validation_demo";
  std::string out;
  if (test::run_command(sgml() + " info demo --data " + dir, &out) != 0) ADD_FAILURE() << out;
  return dir;
}

// A tiny training command on the demo data; `extra` adds or overrides options.
std::string tiny_train(const std::string& out_dir, const std::string& extra = "") {
  return sgml() + " train demo --data " + demo_data() + " --out " + out_dir +
         " --model resnet18 --image-size 32 --classes-per-batch 2 --images-per-class 2 --steps 1 --eval-every -1"
         " --device cpu --workers 1 " + extra;
}

// Runs `command` with a time limit (a hang fails the test instead of stalling the suite).
int run(const std::string& command, std::string* out) { return test::run_command("timeout 120 " + command, out); }

// The command failed, with `needle` in its message and no library text.
void expect_clear_failure(const std::string& command, const std::string& needle) {
  std::string out;
  const int status = run(command, &out);
  EXPECT_NE(status, 0) << command << "\n" << out;
  EXPECT_NE(status, 124) << "timed out: " << command;
  EXPECT_NE(out.find(needle), std::string::npos) << command << "\nexpected '" << needle << "' in:\n" << out;
  EXPECT_EQ(out.find("internal error"), std::string::npos) << command << "\n" << out;
  EXPECT_EQ(out.find("unexpected error"), std::string::npos) << command << "\n" << out;
}

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

TEST(CliValidation, NonFiniteAndOutOfRangeHyperParametersAreRefused) {
  const std::string dir = test::scratch_dir("nonfinite"), run_dir = dir + "/run";
  // Refused at option parsing, before any data is read or a run folder is made.
  const std::string base = sgml() + " train demo --data " + dir + "/no_data --out " + run_dir + " ";
  for (const char* bad : {"--alpha nan", "--lambda nan", "--lr inf", "--weight-decay nan", "--beta -inf",
                          "--lr-gamma nan", "--lr=infinity", "--alpha 1e39", "--lr 1e400"}) {
    const std::string option = std::string(bad).substr(0, std::string(bad).find_first_of(" ="));
    expect_clear_failure(base + bad, option);
  }
  expect_clear_failure(base + "--alpha nan", "finite");
  // Ranges the math needs: a positive scale, a non-negative BCE weight, a positive learning rate.
  expect_clear_failure(base + "--alpha 0", "--alpha must be positive");
  expect_clear_failure(base + "--alpha -2", "--alpha must be positive");
  expect_clear_failure(base + "--lambda -1", "--lambda must be zero or more");
  expect_clear_failure(base + "--lr 0", "--lr must be positive");
  expect_clear_failure(base + "--weight-decay -0.1", "--weight-decay must be zero or more");
  expect_clear_failure(base + "--lr-gamma 2", "--lr-gamma must be at most 1");
  // A value a float cannot hold (it would become 0 or lose its digits): refused, as one above FLT_MAX is.
  expect_clear_failure(base + "--lr 1e-50", "--lr must fit a float: 1e-50 is nonzero but below the smallest normal");
  expect_clear_failure(base + "--weight-decay 1e-320", "--weight-decay must fit a float");
  // The same through --config: the message names the file too.
  std::ofstream(dir + "/bad.json") << R"({"alpha": "nan"})";
  expect_clear_failure(base + "--config " + dir + "/bad.json",
                       "--alpha (set in config file '" + dir + "/bad.json', line 1)");
  EXPECT_FALSE(fs::exists(run_dir + "/last.safetensors"));
}

TEST(CliValidation, IntegersNeverWrapAndCountsAreBounded) {
  const std::string dir = test::scratch_dir("integers"), nowhere = dir + "/nowhere";
  const std::string train = sgml() + " train demo --data " + nowhere + " --out " + dir + "/run ";
  // 4294967360 = 2^32 + 64 became 64.
  expect_clear_failure(train + "--image-size 4294967360", "--image-size must be between 32 and 1024");
  expect_clear_failure(train + "--image-size 99999999999999999999999", "--image-size is out of range");
  expect_clear_failure(train + "--epochs 1.5", "--epochs expects an integer, got '1.5'");
  expect_clear_failure(train + "--epochs 4294967297", "--epochs must be between");
  expect_clear_failure(train + "--workers 100000", "--workers must be between 0 and 256");
  expect_clear_failure(train + "--workers -1", "--workers must be between 0 and 256");
  expect_clear_failure(train + "--classes-per-batch 0", "--classes-per-batch must be between 2 and");
  expect_clear_failure(train + "--classes-per-batch 4096 --images-per-class 1024",
                       "must hold between 1 and 4096 images");
  expect_clear_failure(train + "--seed -3", "--seed must be zero or more");
  expect_clear_failure(train + "--no-pretrained=maybe", "--no-pretrained is a flag");
  // eval and search: the checks come before the checkpoint is read, so none is needed here.
  const std::string eval = sgml() + " eval demo --data " + nowhere + " --checkpoint " + dir + "/none.safetensors ";
  expect_clear_failure(eval + "--batch-size 0", "--batch-size must be between 1 and 4096");
  expect_clear_failure(eval + "--workers 1000000", "--workers must be between 0 and 256");
  expect_clear_failure(eval + "--k 1,x", "--k expects positive integers");
  expect_clear_failure(eval + "--k 1,2x", "--k expects positive integers");
  // --batch-size 0 made eval and search loop forever.
  const std::string search = sgml() + " search --checkpoint " + dir + "/none.safetensors --gallery " + dir + " ";
  expect_clear_failure(search + "--batch-size 0 q.jpg", "--batch-size must be between 1 and 4096");
  expect_clear_failure(search + "--top 0 q.jpg", "--top must be between 1 and");
  // embed and bench refuse before allocating anything.
  expect_clear_failure(sgml() + " embed --weights w --out o.npy --batch-size -1 x.jpg", "--batch-size must be between");
  expect_clear_failure(sgml() + " bench eval --batch-size -1 --device cpu", "--batch-size must be between 1 and 4096");
  expect_clear_failure(sgml() + " bench eval --image-size 100000 --device cpu", "--image-size must be between");
  expect_clear_failure(sgml() + " bench train --classes-per-batch 100000 --device cpu",
                       "--classes-per-batch must be between");
  expect_clear_failure(sgml() + " bench train --classes-per-batch 1000 --images-per-class 1000 --device cpu",
                       "must hold between 1 and 4096 images");
  expect_clear_failure(sgml() + " bench eval --steps 0 --device cpu", "--steps must be positive");
  expect_clear_failure(sgml() + " info demo --data " + nowhere + " --workers 99999", "--workers must be between");
  // --config values go through the same checks and name the file.
  std::ofstream(dir + "/c.json") << R"({"epochs": "ten"})";
  expect_clear_failure(train + "--config " + dir + "/c.json",
                       "--epochs (set in config file '" + dir + "/c.json', line 1) expects an integer");
  std::ofstream(dir + "/d.json") << R"({"image-size": [64]})";
  expect_clear_failure(train + "--config " + dir + "/d.json", "--image-size (set in config file");
}

TEST(CliValidation, EveryCommandSharesTheImageSizeRule) {
  const std::string dir = test::scratch_dir("image_size"), nowhere = dir + "/nowhere";
  const std::string message = "--image-size must be between 32 and 1024";
  for (const char* size : {"16", "4294967360", "100000"}) {
    const std::string s = std::string(" --image-size ") + size;
    expect_clear_failure(sgml() + " train demo --data " + nowhere + " --out " + dir + "/r" + s, message);
    expect_clear_failure(sgml() + " eval demo --data " + nowhere + " --checkpoint x.safetensors" + s, message);
    expect_clear_failure(sgml() + " search --checkpoint x.safetensors --gallery " + dir + s + " q.jpg", message);
    expect_clear_failure(sgml() + " embed --weights x.safetensors --out o.npy" + s + " q.jpg", message);
    expect_clear_failure(sgml() + " bench eval --device cpu" + s, message);
  }
  expect_clear_failure(sgml() + " prepare demo --data " + demo_data() + " --size 4294967360 --out " + dir + "/cache",
                       "--size must be between 32 and 1024");
}

TEST(CliValidation, ExportWithoutNpySuffixKeepsEveryFileBesideIt) {
  const std::string dir = test::scratch_dir("export"), run_dir = dir + "/run";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  const std::string eval = sgml() + " eval demo --data " + demo_data() + " --checkpoint " + run_dir +
                           "/last.safetensors --device cpu --no-nmi --json --export ";
  // Without the suffix (the gallery went to a different folder: "dir/expo" lost 4 characters), and into a folder
  // that does not exist yet; with it, the same names.
  for (const std::string& given : {dir + "/sub/features", dir + "/npy/features.npy"}) {
    ASSERT_EQ(run(eval + given + " 2>/dev/null", &out), 0) << out;
    const nlohmann::json metrics = nlohmann::json::parse(out.substr(out.find('{')));
    const std::string base = fs::path(given).parent_path().string() + "/features";
    ASSERT_TRUE(fs::exists(base + ".npy")) << given;
    ASSERT_TRUE(fs::exists(base + "_gallery.npy")) << given;
    EXPECT_EQ(load_npy(base + ".npy").dim(0), int64_t(metrics["num_queries"]));
    EXPECT_EQ(load_npy(base + "_gallery.npy").dim(0), int64_t(metrics["num_gallery"]));
    EXPECT_EQ(count_lines(base + ".npy.labels.txt"), size_t(metrics["num_queries"]));
    EXPECT_EQ(count_lines(base + "_gallery.npy.labels.txt"), size_t(metrics["num_gallery"]));
    size_t files = 0;
    for (const auto& e : fs::directory_iterator(fs::path(given).parent_path())) files += e.is_regular_file();
    EXPECT_EQ(files, 4u) << given;
  }
  EXPECT_FALSE(fs::exists(dir + "/sub/features_gallery"));
}

TEST(CliValidation, ResumeRefusesWhatCannotBeContinuedAndNotesTheRest) {
  const std::string dir = test::scratch_dir("resume"), run_dir = dir + "/run";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  const std::string log_before = test::file_text(run_dir + "/metrics.jsonl");
  // Architecture-, batch- and objective-defining options: refused, every difference listed, nothing trained.
  ASSERT_NE(run(tiny_train(run_dir, "--resume --steps 2 --image-size 64 --seed 7 --alpha 3 --loss multitask"), &out),
            0);
  for (const char* line : {"--image-size: 32 in the checkpoint, 64 now", "--seed: 0 in the checkpoint, 7 now",
                           "--alpha: 2", "--loss: 'sgml' in the checkpoint, 'multitask' now", "--init"})
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  EXPECT_EQ(out.find("--steps:"), std::string::npos) << "an allowed change listed as refused:\n" << out;
  EXPECT_EQ(test::file_text(run_dir + "/metrics.jsonl"), log_before);
  // Length, threads and evaluation: allowed, with a note; the run goes on to step 2.
  ASSERT_EQ(run("env OMP_NUM_THREADS=2 " + tiny_train(run_dir, "--resume --steps 2 --workers 2"), &out), 0) << out;
  EXPECT_NE(out.find("--resume: --steps: 1 in the checkpoint, 2 now"), std::string::npos) << out;
  EXPECT_NE(out.find("--resume: --workers: 1 in the checkpoint, 2 now"), std::string::npos) << out;
  EXPECT_EQ(count_lines(run_dir + "/metrics.jsonl"), 2u);
  // The CPU's threads (the loader's workers do not count): their number rounds the sums otherwise. Noted once.
  ASSERT_EQ(run("env OMP_NUM_THREADS=1 " + tiny_train(run_dir, "--resume --steps 3 --workers 2"), &out), 0) << out;
  EXPECT_NE(out.find("--resume: note: the run computed on 2 CPU threads so far and on 1 now"), std::string::npos)
      << out;
  ASSERT_EQ(run("env OMP_NUM_THREADS=1 " + tiny_train(run_dir, "--resume --steps 4 --workers 2"), &out), 0) << out;
  EXPECT_EQ(out.find("CPU threads"), std::string::npos) << out;
  EXPECT_EQ(count_lines(run_dir + "/metrics.jsonl"), 4u);
  // The advice of the refusal works: a new run from the checkpoint's weights with other settings.
  ASSERT_EQ(run(tiny_train(dir + "/new", "--init " + run_dir + "/last.safetensors --image-size 64"), &out), 0) << out;
}

// --resume checks the training images: the same list in a moved folder goes on (--data given with a final '/'),
// another list (an image fewer) is refused before anything is trained, naming both.
TEST(CliValidation, ResumeRefusesOtherTrainingData) {
  const std::string dir = test::scratch_dir("resume_data"), run_dir = dir + "/run";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  const std::string moved = dir + "/moved", fewer = dir + "/fewer";
  fs::copy(demo_data(), moved, fs::copy_options::recursive);
  fs::copy(demo_data(), fewer, fs::copy_options::recursive);
  const std::string list = fewer + "/Eval/list_eval_partition.txt";
  std::string text = test::file_text(list);
  const size_t first_train = text.find(" train\n");
  ASSERT_NE(first_train, std::string::npos);
  const size_t line_start = text.rfind('\n', first_train) + 1;
  text.erase(line_start, first_train + 7 - line_start);
  const size_t count_end = text.find('\n');
  text.replace(0, count_end, std::to_string(std::stoi(text.substr(0, count_end)) - 1));
  test::write_file_text(list, text);

  const std::string log_before = test::file_text(run_dir + "/metrics.jsonl");
  expect_clear_failure(tiny_train(run_dir, "--resume --steps 2 --data " + fewer),
                       "a run cannot go on on other data");
  expect_clear_failure(tiny_train(run_dir, "--resume --steps 2 --data " + fewer), "trained on 700 images of 100 "
                       "classes, list ");
  EXPECT_EQ(test::file_text(run_dir + "/metrics.jsonl"), log_before);
  // The same training images with another test set (a gallery image made a query).
  const std::string other_test = dir + "/other_test";
  fs::copy(demo_data(), other_test, fs::copy_options::recursive);
  const std::string other_list = other_test + "/Eval/list_eval_partition.txt";
  std::string partition = test::file_text(other_list);
  const size_t gallery = partition.find(" gallery\n");
  ASSERT_NE(gallery, std::string::npos);
  partition.replace(gallery, 9, " query\n");
  test::write_file_text(other_list, partition);

  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 2 --data " + moved + "/"), &out), 0) << out;
  EXPECT_NE(out.find("--resume: --data: "), std::string::npos) << out;
  EXPECT_EQ(count_lines(run_dir + "/metrics.jsonl"), 2u);

  // A decoded-image cache prepared after the run began is not used by it: its random crops would cut other pixels.
  ASSERT_EQ(run(sgml() + " prepare demo --data " + moved + " --size 32 --workers 1", &out), 0) << out;
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 3 --data " + moved), &out), 0) << out;
  EXPECT_NE(out.find("(prepared since the run began: the run read the image files so far and goes on so"),
            std::string::npos)
      << out;
  const std::string not_used = "decoded-image cache not used: ";
  EXPECT_NE(out.find(not_used), std::string::npos) << out;
  EXPECT_EQ(out.find(not_used), out.rfind(not_used)) << "said once:\n" << out;
  EXPECT_EQ(out.find("the image files so far"), out.rfind("the image files so far")) << "said once:\n" << out;

  // A run that has not evaluated yet is held to no test set: it goes on, evaluating, on the other one.
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 4 --eval-every 0 --data " + other_test), &out), 0) << out;
  // Once it has evaluated, the test set and the feature it evaluates are the run's where it goes on evaluating
  // (its evaluations are compared with the earlier ones), and a leg without evaluations does not change them.
  const std::string refused = "the resumed run's evaluations would not compare with its earlier ones";
  expect_clear_failure(tiny_train(run_dir, "--resume --steps 5 --eval-every 0 --data " + moved), refused);
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 5 --data " + moved), &out), 0) << out;
  expect_clear_failure(tiny_train(run_dir, "--resume --steps 6 --eval-every 0 --data " + moved), refused);
  expect_clear_failure(
      tiny_train(run_dir, "--resume --steps 6 --eval-every 0 --eval-feature conv --data " + other_test),
      ", feature conv: the resumed run's evaluations would not compare");
  // Another feature where the leg does not evaluate: noted, and the run's evaluations stay on their feature.
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 6 --eval-feature conv --data " + other_test), &out), 0) << out;
  EXPECT_NE(out.find("--resume: --eval-feature: 'emb' in the checkpoint, 'conv' now"), std::string::npos) << out;
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 7 --eval-every 0 --data " + other_test), &out), 0) << out;
  EXPECT_EQ(out.find("test image files changed"), std::string::npos) << out;
  // A test image rewritten since the run's last evaluation: noted where the run goes on evaluating.
  const std::string other_partition = test::file_text(other_list);
  const size_t query_at = other_partition.find(" query\n");
  ASSERT_NE(query_at, std::string::npos);
  const size_t query_name_at = other_partition.rfind('\n', query_at) + 1;
  const std::string query_image =
      other_test + "/Img/" +
      other_partition.substr(query_name_at, other_partition.find(' ', query_name_at) - query_name_at);
  ASSERT_TRUE(fs::exists(query_image)) << query_image;
  test::write_file_text(query_image, test::file_text(query_image) + "appended");
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 8 --eval-every 0 --data " + other_test), &out), 0) << out;
  EXPECT_NE(out.find("--resume: note: test image files changed since the run's last evaluation"), std::string::npos)
      << out;

  // A run that began with the cache, which a changed image file has made unusable since: it goes on decoding the
  // files, and says that it no longer matches an uninterrupted run.
  const std::string cached_run = dir + "/cached_run";
  ASSERT_EQ(run(tiny_train(cached_run, "--data " + moved), &out), 0) << out;
  EXPECT_NE(out.find("decoded-image cache: "), std::string::npos) << out;
  // A training image (the partition's first), rewritten: bytes appended after its end still decode.
  const std::string partition_text = test::file_text(moved + "/Eval/list_eval_partition.txt");
  const size_t train_at = partition_text.find(" train\n");
  ASSERT_NE(train_at, std::string::npos);
  const size_t name_at = partition_text.rfind('\n', train_at) + 1;
  const std::string name = partition_text.substr(name_at, partition_text.find(' ', name_at) - name_at);
  const std::string image = moved + "/Img/" + name;
  ASSERT_TRUE(fs::exists(image)) << image;
  test::write_file_text(image, test::file_text(image) + "appended");
  ASSERT_EQ(run(tiny_train(cached_run, "--resume --steps 2 --data " + moved), &out), 0) << out;
  EXPECT_NE(out.find("--resume: note: the run read the decoded-image cache so far, which is not usable now"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("--resume: note: training image files changed since the run last started or resumed"),
            std::string::npos)
      << out;
  // Unchanged since: no such note.
  ASSERT_EQ(run(tiny_train(cached_run, "--resume --steps 3 --data " + moved), &out), 0) << out;
  EXPECT_EQ(out.find("training image files changed"), std::string::npos) << out;
}

// A checkpoint whose attribute head has another width than the dataset's attributes (another dataset, or a CUB copy
// without its attribute files) is refused by --init in words, before the loader names a shape.
TEST(CliValidation, InitNamesAnAttributeHeadOfAnotherWidth) {
  const std::string dir = test::scratch_dir("attribute_head"), run_dir = dir + "/run";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  TensorMap weights = load_safetensors(run_dir + "/last.safetensors");
  ASSERT_TRUE(weights.count("head.attr.weight")) << "the run's attribute head";
  const int64_t width = weights.at("head.attr.weight").dim(1);
  weights["head.attr.weight"] = Tensor::zeros({5, width});
  weights["head.attr.bias"] = Tensor::zeros({5});
  for (auto it = weights.begin(); it != weights.end();)  // a bare weights file: the model alone
    it = it->first.rfind("optimizer.", 0) == 0 ? weights.erase(it) : std::next(it);
  save_safetensors(dir + "/five.safetensors", weights);
  const int attributes = load_dataset("demo", demo_data()).num_attributes();
  expect_clear_failure(tiny_train(dir + "/init", "--init " + dir + "/five.safetensors"),
                       "'" + dir + "/five.safetensors' has an attribute head of 5 outputs, and this dataset has " +
                           std::to_string(attributes) + " attributes: the head cannot be loaded");
}

TEST(CliValidation, RunFolderNamedInLatin1TrainsAndResumes) {
  // The stored configuration is JSON, which holds only UTF-8: a run folder named with byte 0xff made it throw.
  const std::string dir = test::scratch_dir("latin1");
  const std::string run_dir = "\"$(printf '" + dir + "/run_\\377')\"";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  ASSERT_EQ(run(tiny_train(run_dir, "--resume --steps 2"), &out), 0) << out;
  EXPECT_EQ(out.find("--out:"), std::string::npos) << "the same folder read back as another:\n" << out;
  EXPECT_TRUE(fs::exists(dir + "/run_\xff/last.safetensors"));
}

// A checkpoint whose stored configuration has `field` replaced by `value`.
std::string checkpoint_with_config_field(const std::string& from, const std::string& to, const std::string& field,
                                         const nlohmann::json& value) {
  Metadata meta;
  const TensorMap tensors = load_safetensors(from, &meta);
  nlohmann::json config = nlohmann::json::parse(meta.at("config"));
  config[field] = value;
  meta["config"] = config.dump();
  save_safetensors(to, tensors, meta);
  return to;
}

TEST(CliValidation, WronglyTypedStoredConfigurationNamesFileAndField) {
  const std::string dir = test::scratch_dir("json_types"), run_dir = dir + "/run";
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  const std::string last = run_dir + "/last.safetensors";
  // Resume reads the whole stored configuration.
  for (const auto& [field, value, expected] :
       std::vector<std::tuple<std::string, nlohmann::json, std::string>>{{"model", 5, "a string"},
                                                                          {"image_size", "big", "an integer"},
                                                                          {"alpha", "two", "a number"},
                                                                          {"augment", "yes", "true or false"},
                                                                          {"seed", -1, "an integer in range"}}) {
    const std::string resumed = dir + "/resume_" + field;
    fs::create_directories(resumed);
    checkpoint_with_config_field(last, resumed + "/last.safetensors", field, value);
    expect_clear_failure(tiny_train(resumed, "--resume --steps 2"),
                         "checkpoint '" + resumed + "/last.safetensors': field \"" + field +
                             "\" of the stored training configuration must be " + expected);
  }
  // eval and search read the architecture and the image size from it.
  const std::string bad_model = checkpoint_with_config_field(last, dir + "/model.safetensors", "model", 5);
  expect_clear_failure(sgml() + " eval demo --device cpu --data " + demo_data() + " --checkpoint " + bad_model,
                       bad_model);
  expect_clear_failure(sgml() + " eval demo --device cpu --data " + demo_data() + " --checkpoint " + bad_model,
                       "model");
  const std::string bad_size = checkpoint_with_config_field(last, dir + "/size.safetensors", "image_size", 100000);
  expect_clear_failure(sgml() + " eval demo --device cpu --data " + demo_data() + " --checkpoint " + bad_size,
                       "image_size");
}

TEST(CliValidation, OutputFoldersThatCannotBeMadeAreNamed) {
  const std::string dir = test::scratch_dir("outputs"), run_dir = dir + "/run";
  std::ofstream(dir + "/file") << "a file where a folder should be";
  const std::string blocked = dir + "/file/below";
  const std::string in_the_way = "'" + dir + "/file' is a file, not a folder";
  // The run folder is checked before the dataset is read.
  expect_clear_failure(sgml() + " train demo --data " + dir + "/nowhere --out " + blocked, in_the_way);
  expect_clear_failure(sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/file",
                       "cannot create the run folder");
  // The demo dataset is generated on first use: into a folder below a file, it cannot be.
  expect_clear_failure(sgml() + " info demo --data " + blocked, in_the_way);
  expect_clear_failure(sgml() + " train demo --data " + blocked + " --out " + run_dir, in_the_way);
  std::string out;
  ASSERT_EQ(run(tiny_train(run_dir), &out), 0) << out;
  const std::string checkpoint = run_dir + "/last.safetensors";
  expect_clear_failure(tiny_train(dir + "/r2", "--save " + blocked + "/w.safetensors"), in_the_way);
  expect_clear_failure(tiny_train(dir + "/r3", "--metrics " + blocked + "/m.jsonl"), in_the_way);
  const std::string eval =
      sgml() + " eval demo --device cpu --no-nmi --data " + demo_data() + " --checkpoint " + checkpoint;
  expect_clear_failure(eval + " --export " + blocked + "/f.npy", in_the_way);
  expect_clear_failure(eval + " --report " + blocked, in_the_way);
  expect_clear_failure(sgml() + " embed --device cpu --weights " + checkpoint + " --image-size 32 --out " + blocked +
                           "/f.npy " + demo_data() + "/Img/img/DEMO/Circle/id_00000001/01_1_view.jpg",
                       in_the_way);
  // A folder without write permission (root may write anywhere, so only as another user).
  if (::geteuid() != 0) {
    fs::create_directories(dir + "/locked");
    fs::permissions(dir + "/locked", fs::perms::owner_read | fs::perms::owner_exec);
    expect_clear_failure(sgml() + " train demo --data " + dir + "/nowhere --out " + dir + "/locked/run",
                         "permission denied");
    fs::permissions(dir + "/locked", fs::perms::owner_all);
  }
}

// A weights file of the tiny model with every value of the tensors named in `values` replaced.
std::string weights_with(const std::string& from, const std::string& to, const std::map<std::string, float>& values) {
  TensorMap tensors = load_safetensors(from);
  for (const auto& [name, value] : values) {
    Tensor& t = tensors.at(name);
    float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = value;
  }
  save_safetensors(to, tensors);
  return to;
}

TEST(CliValidation, NonFiniteLossStopsTrainingNamingStepAndTerm) {
  const std::string dir = test::scratch_dir("nonfinite_loss");
  std::string out;
  ASSERT_EQ(run(tiny_train(dir + "/run", "--save " + dir + "/init.safetensors"), &out), 0) << out;
  // Finite weights that overflow float in the forward pass (a loader rightly accepts them): the fc bias makes every
  // fc feature about 100 after the ReLU, so a branch whose weights are all 1e38 gives infinite outputs.
  struct Case {
    const char* prefix;
    const char* loss;
    const char* culprit;
  };
  for (const Case& c :
       {Case{"head.emb.weight", "sgml", "the metric loss"}, Case{"head.attr.weight", "multitask", "the BCE"}}) {
    const std::string init = weights_with(dir + "/init.safetensors", dir + "/huge.safetensors",
                                          {{"head.fc.bias", 100.0f}, {c.prefix, 1e38f}});
    const std::string run_dir = dir + "/diverged_" + c.loss;
    expect_clear_failure(tiny_train(run_dir, std::string("--init ") + init + " --steps 3 --loss " + c.loss),
                         "training stopped at step 1: the loss is not finite");
    ASSERT_NE(run(tiny_train(run_dir, std::string("--init ") + init + " --steps 3 --loss " + c.loss), &out), 0);
    EXPECT_NE(out.find(std::string(c.culprit) + " overflowed or became NaN"), std::string::npos) << out;
    // Nothing of the non-finite model was saved, and the log holds no NaN step.
    EXPECT_FALSE(fs::exists(run_dir + "/last.safetensors"));
    EXPECT_FALSE(fs::exists(run_dir + "/best.safetensors"));
    EXPECT_EQ(count_lines(run_dir + "/metrics.jsonl"), 0u);
  }
}

}  // namespace
