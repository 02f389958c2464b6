// The data path under bad input, through the sgml program: a directory given as an image to eval and search (it used to
// abort with "terminate called without an active exception"), file names that are not UTF-8 through info, prepare,
// train, eval and search (prepare used to fail inside the JSON library), a prepare killed at any moment, a cache folder
// that cannot be made, and which images training and evaluation read. Models are ResNet-18 at 32 px on a small
// generated dataset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/dataset.h"
#include "data/demo_generator.h"
#include "data/image_cache.h"
#include "data/path_text.h"
#include "models/sgml_model.h"
#include "tests/support/small_inshop.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

std::string sgml_program() { return std::string(SGML_BINARY_DIR) + "/sgml"; }

// Renames the first image of `status` (train, query or gallery) to a name holding byte 0xff (not UTF-8), in the
// file system and in every list file; returns the new name relative to Img/.
std::string rename_to_non_utf8(const std::string& dir, const std::string& status) {
  std::istringstream lines(test::file_text(dir + "/Eval/list_eval_partition.txt"));
  std::string line, name;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string image, item, st;
    if (fields >> image >> item >> st && st == status) {
      name = image;
      break;
    }
  }
  EXPECT_FALSE(name.empty()) << "no " << status << " image";
  const std::string renamed = name.substr(0, name.size() - 4) + "_\xff\xfe.jpg";
  fs::rename(dir + "/Img/" + name, dir + "/Img/" + renamed);
  for (const char* list : {"/Eval/list_eval_partition.txt", "/Anno/list_bbox_inshop.txt"}) {
    std::string text = test::file_text(dir + list);
    const size_t at = text.find(name + " ");
    EXPECT_NE(at, std::string::npos) << list;
    if (at != std::string::npos) text.replace(at, name.size(), renamed);
    test::write_file_text(dir + list, text);
  }
  return renamed;
}

// Runs a command with a time limit; the output must hold no crash and no library text.
int run(const std::string& command, std::string* out) {
  const int status = test::run_command("timeout 300 " + command, out);
  EXPECT_EQ(out->find("terminate called"), std::string::npos) << command << "\n" << *out;
  EXPECT_EQ(out->find("unexpected error"), std::string::npos) << command << "\n" << *out;
  EXPECT_EQ(out->find("internal error"), std::string::npos) << command << "\n" << *out;
  return status;
}

void expect_clear_failure(const std::string& command, const std::string& needle) {
  std::string out;
  const int status = run(command, &out);
  EXPECT_NE(status, 0) << command << "\n" << out;
  EXPECT_NE(status, 124) << "timed out: " << command;
  EXPECT_NE(status, 134) << "aborted: " << command;
  EXPECT_NE(out.find(needle), std::string::npos) << command << "\nexpected '" << needle << "' in:\n" << out;
}

// A freshly initialised SGML model (ResNet-18 and its head) saved as a bare weights file, for eval and search.
std::string tiny_weights(const std::string& dir) {
  SgmlModelConfig c;
  c.arch = "resnet18";
  c.num_attributes = 29;  // the demo's
  SgmlModel model(c);
  const std::string path = dir + "/tiny.safetensors";
  model.save_weights(path);
  return path;
}

}  // namespace

// The sgml program killed (SIGKILL) at several moments of a prepare: whatever it left, info says so in plain words
// or finds a complete cache, and the next prepare ends with exactly the two files of the cache.
TEST(CliDataRobustness, KilledPrepareNeverBreaksTheNextOne) {
  const std::string dir = test::scratch_dir("killed_prepare") + "/demo";
  write_demo_dataset(dir, DemoLayout::InShop, DemoSpec::defaults(DemoLayout::InShop));
  const std::string prepare = sgml_program() + " prepare deepfashion --data " + dir + " --size 32 --workers 1";
  for (const char* delay : {"0.05", "0.1", "0.2", "0.4"}) {
    std::string out;
    test::run_command("timeout -s KILL " + std::string(delay) + " " + prepare, &out);
    ASSERT_EQ(run(sgml_program() + " info deepfashion --json --cache-size 32 --data " + dir + " 2>/dev/null", &out), 0)
        << out;
    const nlohmann::json info = nlohmann::json::parse(out.substr(out.find('{')));
    const std::string problems = info["problems"].dump();
    if (info["cache"].is_null() && problems.find("image cache") != std::string::npos)
      EXPECT_NE(problems.find("run sgml prepare again"), std::string::npos) << delay << ": " << problems;
    ASSERT_EQ(run(prepare, &out), 0) << out;
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir + "/sgml_cache")) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"images_32.json", "images_32.u8"})) << delay;
  }
  // An image replaced after the prepare: info says the cache is not usable and names the file.
  const std::string replaced = test::read_small_inshop(dir).gallery[0].path;
  test::write_file_text(replaced, test::file_text(replaced) + "more bytes");
  std::string out;
  ASSERT_EQ(run(sgml_program() + " info deepfashion --json --cache-size 32 --data " + dir + " 2>/dev/null", &out), 0)
      << out;
  const nlohmann::json info = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_TRUE(info["cache"].is_null()) << out;
  EXPECT_NE(info["problems"].dump().find("'" + replaced + "' changed since sgml prepare"), std::string::npos) << out;
}

// A missing image file stops training before any work, naming the file and the count (it stopped the run where the
// image was first drawn, perhaps epochs in); with --skip-bad-images the run notes it and trains.
TEST(CliDataRobustness, TrainingRefusesMissingImagesBeforeItStarts) {
  const std::string dir = test::small_inshop("train_missing");
  const Dataset d = test::read_small_inshop(dir);
  fs::remove(d.train[3].path);
  fs::remove(d.gallery[0].path);
  const std::string train = sgml_program() + " train deepfashion --data " + dir + " --out " + dir + "/run" +
                            " --no-pretrained --model resnet18 --image-size 32 --classes-per-batch 2"
                            " --images-per-class 2 --steps 2 --eval-every -1 --device cpu --workers 1 2>&1";
  // Without evaluations only the training images count.
  expect_clear_failure(train, "1 image file of the dataset in '" + dir + "' is missing");
  expect_clear_failure(train, "missing image '" + d.train[3].path + "'");
  expect_clear_failure(train, "--skip-bad-images");
  const std::string evaluating = train.substr(0, train.size() - 5) + " --eval-every 0";
  expect_clear_failure(evaluating + " 2>&1", "2 image files of the dataset in '" + dir + "' are missing");
  EXPECT_FALSE(fs::exists(dir + "/run/metrics.jsonl"));
  std::string out;
  ASSERT_EQ(run(evaluating + " --skip-bad-images 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("note: 2 image files of the dataset are missing; --skip-bad-images leaves them out:"),
            std::string::npos) << out;
  EXPECT_NE(out.find("done: 2 steps"), std::string::npos) << out;
}

TEST(CliDataRobustness, NonUtf8FileNamesWorkEndToEnd) {
  const std::string dir = test::small_inshop("non_utf8"), data = dir + "/data", run_dir = dir + "/run";
  fs::rename(dir, dir + ".tmp");
  fs::create_directories(dir);
  fs::rename(dir + ".tmp", data);
  const std::string train_name = rename_to_non_utf8(data, "train");
  const std::string gallery_name = rename_to_non_utf8(data, "gallery");
  std::string out;
  ASSERT_EQ(run(sgml_program() + " info deepfashion --data " + data + " --json --cache-size 32 2>&1", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out.substr(out.find('{')))["missing_images"], 0) << out;

  // prepare: the index round-trips the names, so training finds every image in the cache.
  ASSERT_EQ(run(sgml_program() + " prepare deepfashion --data " + data + " --size 32 --workers 2 2>&1", &out), 0)
      << out;
  const Dataset d = test::read_small_inshop(data);
  std::string why;
  const auto cache = find_image_cache(d, 32, &why);
  ASSERT_TRUE(cache) << why;
  EXPECT_GE(cache->find(data + "/Img/" + train_name), 0);

  // train (with the cache and an evaluation at the end), eval, search.
  ASSERT_EQ(run(sgml_program() + " train deepfashion --data " + data + " --out " + run_dir +
                    " --no-pretrained --model resnet18"
                    " --image-size 32 --classes-per-batch 2 --images-per-class 2 --steps 2 --eval-every 0"
                    " --device cpu --workers 1 2>&1",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("decoded-image cache: " + cache->json_path()), std::string::npos) << out;
  ASSERT_EQ(run(sgml_program() + " eval deepfashion --data " + data + " --checkpoint " + run_dir + "/last.safetensors"
                    " --device cpu --no-nmi --json 2>/dev/null", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out.substr(out.find('{')))["images_dropped"], 0) << out;
  const std::string query = "'" + data + "/Img/" + train_name + "'";
  ASSERT_EQ(run(sgml_program() + " search --device cpu --checkpoint " + run_dir + "/last.safetensors --gallery " +
                    data + "/Img --top 100 --json " + query + " 2>/dev/null",
                &out),
            0)
      << out;
  const nlohmann::json results = nlohmann::json::parse(out.substr(out.find('[')));
  EXPECT_EQ(results[0]["query"], printable_utf8(data + "/Img/" + train_name));
  EXPECT_NE(results.dump().find("\\\\xff\\\\xfe.jpg"), std::string::npos) << out;  // the gallery's odd name, shown

  // info names a missing image with such a name, in valid JSON.
  fs::remove(data + "/Img/" + gallery_name);
  ASSERT_EQ(run(sgml_program() + " info deepfashion --data " + data + " --json 2>&1", &out), 0) << out;
  const nlohmann::json info = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(info["missing_images"], 1);
  EXPECT_NE(info["problems"].dump().find("\\\\xff\\\\xfe.jpg"), std::string::npos) << out;
}

TEST(CliDataRobustness, EvalAndSearchNameADirectoryGivenAsAnImage) {
  const std::string dir = test::small_inshop("cli_directories");
  const Dataset d = test::read_small_inshop(dir);
  const std::string weights = tiny_weights(dir);
  test::replace_with_directory(d.gallery[1].path);
  const std::string eval = sgml_program() + " eval deepfashion --data " + dir + " --checkpoint " + weights +
                           " --image-size 32 --device cpu --no-nmi --workers 2 --json";
  expect_clear_failure(eval, d.gallery[1].path);
  std::string out;
  ASSERT_EQ(run(eval + " --skip-bad-images 2>/dev/null", &out), 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out.substr(out.find('{')))["images_dropped"], 1) << out;

  const std::string search = sgml_program() + " search --device cpu --image-size 32 --checkpoint " + weights;
  const std::string query = d.query[0].path;
  expect_clear_failure(search + " --gallery " + dir + "/Img " + dir + "/Img", "'" + dir + "/Img': it is a directory");
  test::write_file_text(dir + "/list.txt", d.gallery[0].path + "\n" + d.gallery[1].path + "\n");
  expect_clear_failure(search + " --gallery " + dir + "/list.txt " + query, "'" + d.gallery[1].path + "'");
  // A list saved on Windows (byte-order mark, CRLF) names the same images.
  test::write_file_text(dir + "/windows.txt", "\xEF\xBB\xBF" + d.gallery[0].path + "\r\n" + d.query[1].path + "\r\n");
  std::string out_list;
  ASSERT_EQ(run(search + " --json --gallery " + dir + "/windows.txt " + query + " 2>&1", &out_list), 0) << out_list;
  EXPECT_NE(out_list.find("\"" + d.gallery[0].path + "\""), std::string::npos) << out_list;
  EXPECT_NE(out_list.find("\"" + d.query[1].path + "\""), std::string::npos) << out_list;
  expect_clear_failure(search + " --gallery " + dir + "/nowhere " + query, "'" + dir + "/nowhere' does not exist");
}

// A Recall@K or a --top beyond the images ranked is computed over all of them, and a note says so (a Recall@50 of
// 100% over 8 gallery images is no figure of the model's).
TEST(CliDataRobustness, RanksBeyondTheGalleryAreNoted) {
  const std::string dir = test::small_inshop("cli_beyond_gallery");
  const Dataset d = test::read_small_inshop(dir);
  const std::string weights = tiny_weights(dir);
  const std::string eval = sgml_program() + " eval deepfashion --data " + dir + " --checkpoint " + weights +
                           " --image-size 32 --device cpu --no-nmi --workers 2 --json";
  const std::string gallery = std::to_string(d.gallery.size());
  std::string out;
  ASSERT_EQ(run(eval + " --k 1," + gallery + ",1000 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("note: Recall@1000 counts all " + gallery + " images each query is ranked against: it is Recall@" +
                     gallery + "\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("note: Recall@" + gallery + " "), std::string::npos) << out;
  const nlohmann::json metrics = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(metrics["recall@1000"], metrics["recall@" + gallery]) << out;
  ASSERT_EQ(run(eval + " --k 1," + gallery + " 2>&1", &out), 0) << out;
  EXPECT_EQ(out.find("note: Recall@"), std::string::npos) << out;
  // Training's evaluations (In-shop's K up to 50): noted once, not at every evaluation.
  ASSERT_EQ(run(sgml_program() + " train deepfashion --data " + dir + " --out " + dir + "/run --no-pretrained"
                    " --model resnet18 --image-size 32 --classes-per-batch 2 --images-per-class 2 --steps 1"
                    " --eval-every 1 --device cpu --workers 1 2>&1", &out), 0) << out;
  const std::string note50 = "note: Recall@50 counts all " + gallery + " images each query is ranked against";
  EXPECT_NE(out.find(note50), std::string::npos) << out;
  EXPECT_EQ(out.find(note50), out.rfind(note50)) << "once:\n" << out;

  const std::string search = sgml_program() + " search --device cpu --image-size 32 --json --checkpoint " + weights +
                             " --gallery " + dir + "/list.txt " + d.query[0].path;
  test::write_file_text(dir + "/list.txt", d.gallery[0].path + "\n" + d.gallery[1].path + "\n");
  ASSERT_EQ(run(search + " --top 3 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("note: --top 3 is more than the gallery's 2 images: each query lists all of them"),
            std::string::npos) << out;
  EXPECT_EQ(nlohmann::json::parse(out.substr(out.find('[')))[0]["results"].size(), 2u) << out;
  ASSERT_EQ(run(search + " --top 2 2>&1", &out), 0) << out;
  EXPECT_EQ(out.find("note:"), std::string::npos) << out;
}

// A query whose item has no gallery image left (here: removed, and skipped) is a miss at every K; the plain-text
// result says how many such queries there are (only the JSON had it), so that a Recall below 100% at every K reads.
TEST(CliDataRobustness, EvalSaysHowManyQueriesHaveNoMatch) {
  const std::string dir = test::small_inshop("cli_no_match");
  const Dataset d = test::read_small_inshop(dir);
  for (const ImageRecord& g : d.gallery)
    if (g.item == d.query[0].item) fs::remove(g.path);
  const std::string eval = sgml_program() + " eval deepfashion --data " + dir + " --checkpoint " + tiny_weights(dir) +
                           " --image-size 32 --device cpu --no-nmi --workers 2 --skip-bad-images";
  std::string out;
  ASSERT_EQ(run(eval + " --json", &out), 0) << out;
  const int64_t without = nlohmann::json::parse(out.substr(out.find('{')))["queries_without_match"];
  ASSERT_GT(without, 0) << out;
  ASSERT_EQ(run(eval + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("queries without a match in the gallery: " + std::to_string(without) + " of " +
                     std::to_string(d.query.size())), std::string::npos) << out;
}

// Where training and evaluation read their images differently, each says so: random-resized crops need the
// original images, and the evaluation transform still reads the decoded-image cache (chosen once for the run); the
// files that the cache does not serve are looked for before training.
TEST(CliDataRobustness, TrainingAndEvaluationSayWhichImagesTheyRead) {
  const std::string dir = test::small_inshop("cli_cache_notes");
  std::string out;
  ASSERT_EQ(run(sgml_program() + " prepare deepfashion --data " + dir + " --size 32 --workers 2 2>&1", &out), 0) << out;
  const std::string index = cache_index_path(default_cache_dir(test::read_small_inshop(dir)), 32);
  const std::string train = sgml_program() + " train deepfashion --data " + dir +
                            " --no-pretrained --model resnet18"
                            " --image-size 32 --classes-per-batch 2 --images-per-class 2 --steps 1 --eval-every 0"
                            " --device cpu --workers 1";
  ASSERT_EQ(run(train + " --out " + dir + "/plain 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("decoded-image cache: " + index), std::string::npos) << out;
  EXPECT_EQ(out.find("evaluation: "), std::string::npos) << out;  // the same for both: said once
  ASSERT_EQ(run(train + " --train-crop random-resized --out " + dir + "/crop 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("decoded-image cache not used: --train-crop random-resized"), std::string::npos) << out;
  EXPECT_NE(out.find("evaluation: decoded-image cache: " + index), std::string::npos) << out;
  // A test image gone since prepare: served to the evaluation from the cache; an evaluation that decodes the files
  // (--eval-resize) is refused before training, naming it, though training reads the cache.
  const std::string gone = test::read_small_inshop(dir).gallery[0].path;
  ASSERT_TRUE(fs::remove(gone)) << gone;
  ASSERT_EQ(run(train + " --out " + dir + "/gone 2>&1", &out), 0) << out;
  expect_clear_failure(train + " --eval-resize 40 --out " + dir + "/refused 2>&1", "missing image '" + gone + "'");
  EXPECT_FALSE(fs::exists(dir + "/refused/metrics.jsonl"));
}

TEST(CliDataRobustness, PrepareNamesAnOutputFolderThatCannotBeMade) {
  const std::string dir = test::small_inshop("prepare_out");
  test::write_file_text(dir + "/file", "a file where a folder should be");
  const std::string prepare = sgml_program() + " prepare deepfashion --data " + dir + " --size 32 --out ";
  expect_clear_failure(prepare + dir + "/file/cache", "cannot create the cache folder '" + dir + "/file/cache': '" +
                                                          dir + "/file' is a file, not a folder");
  expect_clear_failure(prepare + dir + "/file", "'" + dir + "/file' is a file, not a folder");
  if (::geteuid() != 0) {  // root may write anywhere
    fs::create_directories(dir + "/locked");
    fs::permissions(dir + "/locked", fs::perms::owner_read | fs::perms::owner_exec);
    expect_clear_failure(prepare + dir + "/locked", "permission denied");
    fs::permissions(dir + "/locked", fs::perms::owner_all);
  }
}
