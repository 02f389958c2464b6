// The one path from images to features (training/feature_extraction.h) and evaluation with unreadable images.
// - Each row equals the model run on that image alone (decoded and transformed outside the loader).
// - Evaluation reads the decoded-image cache when `sgml prepare` made one (it used to decode every time).
// - An unreadable image is an error naming it, or with --skip-bad-images is dropped from both sides of the ranking
//   (it used to get a zero feature that stayed in the ranking): the metrics must equal the NumPy reference
//   (tests/reference/retrieval_ref.py) on the features of the other images, and `sgml eval` must report the same
//   metrics as on the dataset with the image's line removed from the list file, with "images_dropped".
// Models are ResNet-18 at 32 px with random weights on small generated datasets.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/cub_reader.h"
#include "data/demo_generator.h"
#include "data/image_cache.h"
#include "data/image_transform.h"
#include "data/inshop_reader.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"
#include "training/evaluation.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

std::string sgml_program() { return std::string(SGML_BINARY_DIR) + "/sgml"; }

std::string small_dataset(const std::string& name, DemoLayout layout) {
  const std::string dir = test::scratch_dir(name);
  DemoSpec s;
  s.train_items = layout == DemoLayout::Cub ? 6 : 4;
  s.test_items = layout == DemoLayout::Cub ? 6 : 4;
  s.views_per_item = 4;
  s.query_views = 2;
  s.width = s.height = 40;
  write_demo_dataset(dir, layout, s);
  return dir;
}

Dataset read_dataset(const std::string& dir, DemoLayout layout) {
  Dataset d = layout == DemoLayout::Cub ? read_cub(dir) : read_inshop(dir);
  d.kind = layout == DemoLayout::Cub ? "cub" : "deepfashion";
  return d;
}

SgmlModel tiny_model() {
  SgmlModelConfig c;
  c.arch = "resnet18";
  c.num_attributes = 29;  // the In-shop demo's
  return SgmlModel(c);
}

EvaluationSettings settings() {
  EvaluationSettings s;
  s.image_size = 32;
  s.batch_size = 3;
  s.workers = 2;
  s.compute_nmi = false;
  s.ks = {1, 2, 4, 8, 16, 1000};
  return s;
}

void spoil(const std::string& path) { std::ofstream(path, std::ios::binary | std::ios::trunc) << "not an image"; }

// Rows of `features` (N, D) without row `skip`.
Tensor without_row(const Tensor& features, int64_t skip) {
  const int64_t n = features.dim(0), d = features.dim(1);
  std::vector<float> v = features.to_vector();
  v.erase(v.begin() + skip * d, v.begin() + (skip + 1) * d);
  return Tensor::from_vector(v, {n - 1, d});
}

std::vector<int64_t> labels_without(const std::vector<ImageRecord>& images, int64_t skip) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < images.size(); ++i)
    if (int64_t(i) != skip) out.push_back(images[i].label);
  return out;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
  Tensor t = Tensor::empty({int64_t(labels.size())}, Device::cpu(), DType::I64);
  std::copy(labels.begin(), labels.end(), t.data_i64());
  return t;
}

// Recall@K (for settings().ks) and MAP@R by the NumPy reference; gallery undefined: leave-one-out.
nlohmann::json reference_metrics(const std::string& dir, const Tensor& queries,
                                 const std::vector<int64_t>& query_labels, const Tensor& gallery,
                                 const std::vector<int64_t>& gallery_labels) {
  const bool loo = !gallery.defined();
  TensorMap in{{"queries", queries}, {"query_labels", labels_tensor(query_labels)},
               {"gallery_labels", labels_tensor(gallery_labels)}};
  if (!loo) in["gallery"] = gallery;
  save_safetensors(dir + "/ref_in.safetensors", in);
  nlohmann::json manifest = nlohmann::json::array();
  manifest.push_back({{"name", "dropped"}, {"kind", "rank"}, {"input", dir + "/ref_in.safetensors"},
                      {"output", dir + "/ref_out.safetensors"}, {"scalars", dir + "/ref.json"},
                      {"params", {{"k", 1}, {"ks", settings().ks}, {"leave_one_out", loo}}}});
  std::ofstream(dir + "/manifest.json") << manifest.dump();
  test::run_reference("retrieval_ref.py", {dir + "/manifest.json"});
  nlohmann::json out;
  std::ifstream(dir + "/ref.json") >> out;
  return out;
}

void expect_metrics_equal_reference(const RetrievalMetrics& m, const nlohmann::json& ref) {
  const std::vector<int> ks = settings().ks;
  for (size_t i = 0; i < ks.size(); ++i)
    EXPECT_NEAR(m.recall.at(ks[i]), ref["recall"][i].get<double>(), 1e-9) << "Recall@" << ks[i];
  EXPECT_NEAR(m.map_at_r, ref["map_at_r"].get<double>(), 1e-6);
}

}  // namespace

TEST(FeatureExtraction, RowsEqualTheModelOnEachImageAlone) {
  const std::string dir = small_dataset("fx_rows", DemoLayout::InShop);
  const Dataset d = read_dataset(dir, DemoLayout::InShop);
  SgmlModel model = tiny_model();
  const ExtractedFeatures f = extract_features(model, d.gallery, settings());
  ASSERT_EQ(f.features.dim(0), int64_t(d.gallery.size()));
  EXPECT_TRUE(f.dropped.empty());
  const int64_t dim = f.features.dim(1);
  for (size_t i = 0; i < d.gallery.size(); ++i) {
    EXPECT_EQ(f.kept[i], int(i));
    const Tensor image = load_image_for_model(d.gallery[i].path, 32);
    const Tensor alone = model.extract(image.view(0, {1, 3, 32, 32}), FeatureKind::Emb);
    EXPECT_LT(test::relative_error(f.features.view(int64_t(i) * dim, {1, dim}), alone), 1e-5) << i;
  }
}

TEST(FeatureExtraction, EvaluationReadsThePreparedCache) {
  const std::string dir = small_dataset("fx_cache", DemoLayout::InShop);
  const Dataset d = read_dataset(dir, DemoLayout::InShop);
  SgmlModel model = tiny_model();
  EvaluationSettings s = settings();
  std::string note;
  EXPECT_EQ(evaluation_cache(d, s, &note), nullptr);
  EXPECT_TRUE(note.empty()) << note;
  const Evaluation decoded = evaluate_model(model, d, s, nullptr);
  build_image_cache(d, default_cache_dir(d), 32, 2, false);
  // The image file is gone after prepare: only the cache can give its features, and they are the decoded ones.
  // (A file spoiled in place is a changed file: the cache is then not used, DataLoader.ChangedImageFileStopsTheCache.)
  fs::remove(d.gallery[1].path);
  const std::shared_ptr<const ImageCache> cache = evaluation_cache(d, s, &note);
  ASSERT_NE(cache, nullptr) << note;
  EXPECT_NE(note.find(cache_index_path(default_cache_dir(d), 32)), std::string::npos) << note;
  const Evaluation cached = evaluate_model(model, d, s, cache);
  EXPECT_EQ(cached.images_dropped(), 0);
  EXPECT_LT(test::relative_error(cached.gallery_features, decoded.gallery_features), 1e-6);
  EXPECT_LT(test::relative_error(cached.query_features, decoded.query_features), 1e-6);
  EXPECT_NE(test::error_of([&] { evaluate_model(model, d, s, nullptr); }).find(d.gallery[1].path), std::string::npos);
  // --eval-resize crops from the original image, which the cache (squashed to squares) does not hold.
  s.eval_resize = 40;
  EXPECT_EQ(evaluation_cache(d, s, &note), nullptr);
  EXPECT_NE(note.find("--eval-resize"), std::string::npos) << note;
}

TEST(Evaluation, UnreadableImageIsAnErrorNamingItWithoutSkip) {
  const std::string dir = small_dataset("eval_bad_error", DemoLayout::InShop);
  const Dataset d = read_dataset(dir, DemoLayout::InShop);
  SgmlModel model = tiny_model();
  spoil(d.query[2].path);
  const std::string message = test::error_of([&] { evaluate_model(model, d, settings(), nullptr); });
  EXPECT_NE(message.find(d.query[2].path), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-bad-images"), std::string::npos) << message;
}

TEST(Evaluation, DroppedImagesLeaveBothSidesOfTheRankingQueryGallery) {
  const std::string dir = small_dataset("eval_dropped_qg", DemoLayout::InShop);
  const Dataset d = read_dataset(dir, DemoLayout::InShop);
  SgmlModel model = tiny_model();
  EvaluationSettings s = settings();
  const Evaluation full = evaluate_model(model, d, s, nullptr);  // every image readable
  const int64_t bad_query = 1, bad_gallery = 2;
  spoil(d.query[bad_query].path);
  spoil(d.gallery[bad_gallery].path);
  s.skip_bad_images = true;
  const Evaluation e = evaluate_model(model, d, s, nullptr);
  EXPECT_EQ(e.images_dropped(), 2);
  EXPECT_EQ(e.dropped, (std::vector<std::string>{d.query[bad_query].path, d.gallery[bad_gallery].path}));
  EXPECT_EQ(e.to_json()["images_dropped"], 2);
  EXPECT_EQ(e.metrics.num_queries, int64_t(d.query.size()) - 1);
  EXPECT_EQ(e.metrics.num_gallery, int64_t(d.gallery.size()) - 1);
  ASSERT_EQ(e.queries.size(), d.query.size() - 1);
  for (const ImageRecord* r : e.queries) EXPECT_NE(r->path, d.query[bad_query].path);
  for (const ImageRecord* r : e.gallery) EXPECT_NE(r->path, d.gallery[bad_gallery].path);
  // The rows are the other images' features, and the metrics those of the other images, by the NumPy reference.
  const Tensor q = without_row(full.query_features, bad_query), g = without_row(full.gallery_features, bad_gallery);
  EXPECT_LT(test::relative_error(e.query_features, q), 1e-5);
  EXPECT_LT(test::relative_error(e.gallery_features, g), 1e-5);
  expect_metrics_equal_reference(e.metrics, reference_metrics(dir, q, labels_without(d.query, bad_query), g,
                                                               labels_without(d.gallery, bad_gallery)));
}

TEST(Evaluation, DroppedImageLeavesBothSidesOfTheRankingLeaveOneOut) {
  const std::string dir = small_dataset("eval_dropped_loo", DemoLayout::Cub);
  const Dataset d = read_dataset(dir, DemoLayout::Cub);
  SgmlModel model = tiny_model();
  EvaluationSettings s = settings();
  const Evaluation full = evaluate_model(model, d, s, nullptr);
  const int64_t bad = 5;
  spoil(d.test[bad].path);
  s.skip_bad_images = true;
  const Evaluation e = evaluate_model(model, d, s, nullptr);
  EXPECT_EQ(e.dropped, (std::vector<std::string>{d.test[bad].path}));
  EXPECT_EQ(e.metrics.num_queries, int64_t(d.test.size()) - 1);
  EXPECT_EQ(e.metrics.num_gallery, int64_t(d.test.size()) - 1);
  const Tensor t = without_row(full.query_features, bad);
  EXPECT_LT(test::relative_error(e.query_features, t), 1e-5);
  expect_metrics_equal_reference(e.metrics, reference_metrics(dir, t, labels_without(d.test, bad), Tensor(),
                                                              labels_without(d.test, bad)));
}

// `sgml eval --skip-bad-images` on a dataset with an unreadable query and gallery image reports the metrics of the
// same dataset with their lines removed from the list file, and says how many images it dropped.
TEST(CliEval, DroppedImagesGiveTheMetricsOfTheDatasetWithoutThem) {
  const std::string dir = small_dataset("cli_eval_dropped", DemoLayout::InShop);
  const std::string without = dir + "_without";
  fs::remove_all(without);
  fs::copy(dir, without, fs::copy_options::recursive);
  const Dataset d = read_dataset(dir, DemoLayout::InShop);
  const std::string weights = dir + "/tiny.safetensors";
  tiny_model().save_weights(weights);
  const std::vector<std::string> bad = {d.query[1].path, d.gallery[2].path};
  for (const std::string& path : bad) spoil(path);
  // The copy lists neither image: its partition file loses their lines, and its count says so.
  const std::string list = without + "/Eval/list_eval_partition.txt";
  std::ifstream in(list);
  std::string line, body;
  int count = 0;
  std::getline(in, line);  // the count
  std::getline(in, line);  // the column names
  const std::string header = line;
  while (std::getline(in, line)) {
    bool listed_bad = false;
    for (const std::string& path : bad)
      listed_bad = listed_bad || path.find(line.substr(0, line.find(' '))) != std::string::npos;
    if (listed_bad) continue;
    body += line + "\n";
    ++count;
  }
  in.close();
  ASSERT_EQ(count, int(d.train.size() + d.query.size() + d.gallery.size()) - 2);
  std::ofstream(list, std::ios::trunc) << count << "\n" << header << "\n" << body;

  const std::string eval =
      sgml_program() + " eval deepfashion --checkpoint " + weights +
      " --image-size 32 --device cpu --no-nmi --workers 2 --batch-size 3 --k 1,2,4,8 --json --data ";
  std::string out_bad, out_without, printed;
  ASSERT_NE(test::run_command(eval + dir + " 2>&1", &out_bad), 0) << out_bad;
  EXPECT_NE(out_bad.find(d.query[1].path), std::string::npos) << out_bad;
  ASSERT_EQ(test::run_command(eval + dir + " --skip-bad-images 2>/dev/null", &out_bad), 0) << out_bad;
  ASSERT_EQ(test::run_command(eval + without + " 2>/dev/null", &out_without), 0) << out_without;
  nlohmann::json with_bad = nlohmann::json::parse(out_bad.substr(out_bad.find('{')));
  nlohmann::json reference = nlohmann::json::parse(out_without.substr(out_without.find('{')));
  EXPECT_EQ(with_bad["images_dropped"], 2) << out_bad;
  EXPECT_EQ(reference["images_dropped"], 0) << out_without;
  with_bad.erase("images_dropped");
  reference.erase("images_dropped");
  EXPECT_EQ(with_bad, reference);
  // The printed results say it too.
  const std::string plain = eval.substr(0, eval.find(" --json")) + eval.substr(eval.find(" --json") + 7);
  ASSERT_EQ(test::run_command(plain + dir + " --skip-bad-images 2>/dev/null", &printed), 0) << printed;
  EXPECT_NE(printed.find("images dropped (unreadable): 2"), std::string::npos) << printed;
}
