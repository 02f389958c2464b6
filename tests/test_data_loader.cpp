// The loader on a small generated demo: batch contents, byte-identical batches for 1 and 3 workers and any
// prefetch depth, resuming at a step, the end of an evaluation stream, bad images (fail, replace, drop, counted),
// and the decoded-image cache (same batches as decoding, used only when it matches the dataset).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <fstream>

#include "data/cub_reader.h"
#include "data/dataset.h"
#include "data/demo_generator.h"
#include "data/image_cache.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/inshop_reader.h"
#include "data/loader.h"
#include "data/samplers.h"
#include "data/training_stream.h"
#include "engine/check.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

DemoSpec small_spec() {
  DemoSpec s;
  s.train_items = 8;
  s.test_items = 4;
  s.views_per_item = 4;
  s.query_views = 2;
  s.width = s.height = 40;
  return s;
}

Dataset small_demo(const std::string& name, DemoLayout layout = DemoLayout::InShop) {
  const std::string dir = test::scratch_dir(name);
  DemoSpec spec = small_spec();
  if (layout == DemoLayout::Cub) spec.width = 48;  // non-square, with boxes
  write_demo_dataset(dir, layout, spec);
  // (The readers directly: load_dataset would replace this small demo with the default one.)
  return layout == DemoLayout::InShop ? read_inshop(dir) : read_cub(dir);
}

std::vector<float> values(const Tensor& t) { return t.to_vector(); }

void expect_same(const Batch& a, const Batch& b) {
  ASSERT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.labels, b.labels);
  ASSERT_EQ(a.images.shape(), b.images.shape());
  EXPECT_EQ(std::memcmp(a.images.data(), b.images.data(), a.images.nbytes()), 0) << "step " << a.step;
  EXPECT_EQ(values(a.attributes), values(b.attributes));
}

std::vector<Batch> load_steps(const Dataset& d, int workers, int prefetch, int steps, int64_t first_step = 0) {
  BatchWiseSampler sampler(labels_of(d.train), 4, 3, 99);
  LoaderConfig c;
  c.image_size = 32;
  c.augment = true;
  c.seed = 5;
  c.workers = workers;
  c.prefetch = prefetch;
  c.first_step = first_step;
  Loader loader(d, d.train, [&](int64_t step) { return sampler.batch(step); }, c);
  EXPECT_EQ(loader.workers(), workers);
  std::vector<Batch> out;
  for (int i = 0; i < steps; ++i) out.push_back(loader.next());
  return out;
}

TEST(DataLoader, BatchHoldsTheSampledImages) {
  const Dataset d = small_demo("demo");
  const std::vector<Batch> batches = load_steps(d, 2, 2, 3);
  BatchWiseSampler sampler(labels_of(d.train), 4, 3, 99);
  for (const Batch& b : batches) {
    EXPECT_EQ(b.indices, sampler.batch(b.step));
    ASSERT_EQ(b.images.shape(), (Shape{12, 3, 32, 32}));
    ASSERT_EQ(b.attributes.shape(), (Shape{12, 29}));
    const std::vector<float> attributes = values(b.attributes);
    for (int i = 0; i < b.size(); ++i) {
      const ImageRecord& r = d.train[size_t(b.indices[size_t(i)])];
      EXPECT_EQ(b.labels[size_t(i)], r.label);
      EXPECT_EQ(std::vector<float>(attributes.begin() + i * 29, attributes.begin() + (i + 1) * 29), d.attributes_of(r));
      // The row is this image's transform with the draw of (seed, step, position).
      std::vector<float> expected(3 * 32 * 32);
      transform_image(expected.data(), decode_image_file(r.path), r.box, 32,
                      {true, mix_seed(5, uint64_t(b.step), uint64_t(i))});
      EXPECT_EQ(std::memcmp(expected.data(), b.images.data() + size_t(i) * expected.size(), expected.size() * 4), 0);
    }
  }
  EXPECT_EQ(batches[0].step, 0);
  EXPECT_EQ(batches[2].step, 2);
}

TEST(DataLoader, SameBatchesForAnyWorkerCountAndPrefetch) {
  const Dataset d = small_demo("demo");
  const std::vector<Batch> one = load_steps(d, 1, 1, 6), three = load_steps(d, 3, 4, 6);
  for (size_t i = 0; i < one.size(); ++i) expect_same(one[i], three[i]);
  // and a resumed loader continues exactly
  const std::vector<Batch> resumed = load_steps(d, 2, 2, 2, 4);
  expect_same(resumed[0], one[4]);
  expect_same(resumed[1], one[5]);
}

TEST(DataLoader, EvaluationStreamEnds) {
  const Dataset d = small_demo("demo");
  SequentialBatches seq(int(d.gallery.size()), 3);  // 8 gallery images: 3, 3, 2
  LoaderConfig c;
  c.image_size = 40;
  Loader loader(d, d.gallery, [&](int64_t step) { return seq.batch(step); }, c);
  std::vector<int> sizes;
  for (Batch b = loader.next(); b.size() > 0; b = loader.next()) sizes.push_back(b.size());
  EXPECT_EQ(sizes, (std::vector<int>{3, 3, 2}));
  EXPECT_EQ(loader.next().size(), 0);
}

// Cuts the file of training image `index` in half (a truncated JPEG).
void truncate_image(const Dataset& d, int index) {
  const std::string path = d.train[size_t(index)].path;
  fs::resize_file(path, fs::file_size(path) / 2);
}

// The error of loading the batch of images 1, 5 and 6 with the default policy (stop at a bad image).
std::string first_batch_error(const Dataset& d) {
  LoaderConfig c;
  c.image_size = 32;
  Loader loader(d, d.train, [](int64_t step) { return step == 0 ? std::vector<int>{1, 5, 6} : std::vector<int>{}; }, c);
  try {
    loader.next();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(DataLoader, BadImageStopsByDefault) {
  const Dataset d = small_demo("demo");
  truncate_image(d, 5);
  const std::string message = first_batch_error(d);
  EXPECT_NE(message.find(d.train[5].path), std::string::npos) << message;
  EXPECT_NE(message.find("truncated JPEG"), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-bad-images"), std::string::npos) << message;
}

// A bounding box that shares no pixel with its image stops loading, naming the image (it used to be clamped to a
// one-pixel crop of the edge, silently).
TEST(DataLoader, BoxOutsideTheImageNamesTheImage) {
  Dataset d = small_demo("demo");
  d.train[5].box = BoundingBox{5000.0f, 10.0f, 5.0f, 5.0f};
  const std::string message = first_batch_error(d);
  EXPECT_NE(message.find("image '" + d.train[5].path + "': its bounding box (x 5000, y 10, width 5, height 5) lies "
                         "outside the"), std::string::npos) << message;
  EXPECT_NE(message.find("--skip-bad-images"), std::string::npos) << message;
}

TEST(DataLoader, BadImageReplacedWithinItsClass) {
  const Dataset d = small_demo("demo");
  truncate_image(d, 5);  // item 1's second view (4 views per item, in order)
  LoaderConfig c;
  c.image_size = 32;
  c.on_bad_image = BadImagePolicy::ReplaceWithinClass;
  c.workers = 3;
  Loader loader(
      d, d.train,
      [](int64_t step) {
        return step < 2 ? std::vector<int>{1, 5, 6, 5} : std::vector<int>{};
      },
      c);
  const Batch b = loader.next();
  EXPECT_EQ(b.indices, (std::vector<int>{1, 6, 6, 6}));  // the next image of the same item, deterministically
  EXPECT_EQ(b.labels[1], d.train[5].label);
  EXPECT_EQ(loader.bad_images_skipped(), 2);
  loader.next();
  EXPECT_EQ(loader.bad_images_skipped(), 4);  // counted each time it is met
  EXPECT_EQ(loader.bad_image_paths(), (std::vector<std::string>{d.train[5].path}));
}

TEST(DataLoader, BadImageDroppedFromEvaluation) {
  const Dataset d = small_demo("demo");
  const std::string path = d.gallery[2].path;
  std::ofstream(path, std::ios::binary) << "not an image";
  SequentialBatches seq(int(d.gallery.size()), 4);
  LoaderConfig c;
  c.image_size = 40;
  c.on_bad_image = BadImagePolicy::Drop;
  Loader loader(d, d.gallery, [&](int64_t step) { return seq.batch(step); }, c);
  const Batch b = loader.next();
  EXPECT_EQ(b.indices, (std::vector<int>{0, 1, 3}));
  ASSERT_EQ(b.images.shape(), (Shape{3, 3, 40, 40}));
  EXPECT_EQ(b.labels[2], d.gallery[3].label);
  EXPECT_EQ(loader.bad_images_skipped(), 1);
  EXPECT_EQ(loader.next().size(), 4);
}

TEST(DataLoader, CacheGivesTheSameBatchesAsDecoding) {
  const Dataset d = small_demo("demo");
  const CacheBuildReport report = build_image_cache(d, default_cache_dir(d), 40, 2, false);
  EXPECT_EQ(report.images, int(d.train.size() + d.query.size() + d.gallery.size()));
  std::string why_not;
  std::shared_ptr<const ImageCache> cache = find_image_cache(d, 40, &why_not);
  ASSERT_TRUE(cache) << why_not;
  EXPECT_FALSE(find_image_cache(d, 32));  // only the exact size
  // The demo's images are 40 x 40: cached unchanged, so training and evaluation batches are identical.
  BatchWiseSampler sampler(labels_of(d.train), 4, 2, 1);
  for (bool augment : {false, true}) {
    LoaderConfig c;
    c.image_size = 40;
    c.augment = augment;
    Loader plain(d, d.train, [&](int64_t s) { return sampler.batch(s); }, c);
    Loader cached(d, d.train, [&](int64_t s) { return sampler.batch(s); }, c, cache);
    EXPECT_TRUE(cached.uses_cache());
    for (int i = 0; i < 3; ++i) expect_same(plain.next(), cached.next());
  }
}

TEST(DataLoader, CacheOfCroppedImagesEqualsDecodingAtModelSize) {
  // CUB layout: boxes cropped at prepare time; at the model size the evaluation input is identical.
  const Dataset d = small_demo("cub", DemoLayout::Cub);
  build_image_cache(d, default_cache_dir(d), 32, 2, false);
  auto cache = find_image_cache(d, 32);
  ASSERT_TRUE(cache);
  SequentialBatches seq(int(d.test.size()), 8);
  LoaderConfig c;
  c.image_size = 32;
  Loader plain(d, d.test, [&](int64_t s) { return seq.batch(s); }, c);
  Loader cached(d, d.test, [&](int64_t s) { return seq.batch(s); }, c, cache);
  expect_same(plain.next(), cached.next());
}

// The cache serves its dataset's folder however a later command spells it: relative, absolute, with './', a final
// '/' or a '..' (it was found only under the spelling of `sgml prepare`).
TEST(DataLoader, CacheServesItsFolderUnderAnySpelling) {
  const Dataset d = small_demo("demo");
  build_image_cache(d, default_cache_dir(d), 40, 1, false);
  const fs::path root = fs::path(d.root), cwd = fs::current_path();
  const std::string relative = fs::relative(root, cwd).string();
  for (const std::string& spelling :
       {root.string() + "/", root.string() + "/.", (root.parent_path() / ".." / root.parent_path().filename() /
                                                    root.filename()).string(), relative, "./" + relative}) {
    SCOPED_TRACE(spelling);
    const Dataset again = read_inshop(spelling);
    std::string why_not;
    const std::shared_ptr<const ImageCache> cache = find_image_cache(again, 40, &why_not);
    ASSERT_TRUE(cache) << why_not;
    EXPECT_EQ(cache->find(again.train[3].path), 3);
    EXPECT_EQ(cache->find(again.train[3].path + "x"), -1);
  }
}

TEST(DataLoader, StaleCacheIsNotUsed) {
  Dataset d = small_demo("demo");
  build_image_cache(d, default_cache_dir(d), 40, 1, false);
  d.train.pop_back();  // the dataset changed since sgml prepare
  std::string why_not;
  EXPECT_FALSE(find_image_cache(d, 40, &why_not));
  EXPECT_NE(why_not.find("rerun sgml prepare"), std::string::npos) << why_not;
}

// An image file replaced under its name after prepare (another size, or the same size written later) stops the
// cache from serving, naming the file; a file that is gone is still served (the cache holds its pixels).
TEST(DataLoader, ChangedImageFileStopsTheCache) {
  const Dataset d = small_demo("demo");
  build_image_cache(d, default_cache_dir(d), 40, 2, false);
  ASSERT_TRUE(find_image_cache(d, 40));
  const std::string changed = d.gallery[1].path, gone = d.train[2].path;
  fs::remove(gone);
  std::string why_not;
  const std::shared_ptr<const ImageCache> serving = find_image_cache(d, 40, &why_not);
  ASSERT_TRUE(serving) << why_not;
  EXPECT_EQ(why_not, "it serves '" + gone + "', gone from disk since sgml prepare");  // said, not silent
  EXPECT_EQ(cache_in_use_note(*serving, why_not),
            "decoded-image cache: " + serving->json_path() + " (" + why_not + ")");

  const std::string original = test::file_text(changed);
  test::write_file_text(changed, test::file_text(d.train[0].path));  // another image of another size
  ASSERT_NE(test::file_text(changed).size(), original.size());
  EXPECT_FALSE(find_image_cache(d, 40, &why_not));
  EXPECT_NE(why_not.find("'" + changed + "' changed since sgml prepare wrote"), std::string::npos) << why_not;
  EXPECT_NE(why_not.find("rerun sgml prepare"), std::string::npos) << why_not;

  // The same bytes again, but written after prepare: a re-encoded file of equal size looks like this.
  test::write_file_text(changed, original);
  const auto later = fs::last_write_time(changed) + std::chrono::seconds(5);
  fs::last_write_time(changed, later);
  fs::last_write_time(d.gallery[2].path, later);
  EXPECT_FALSE(find_image_cache(d, 40, &why_not));
  EXPECT_NE(why_not.find("'" + changed + "' and 1 other image files changed"), std::string::npos) << why_not;

  // A new prepare stamps the files as they are now (the gone one as unreadable: its return counts as a change).
  test::write_file_text(gone, original);
  build_image_cache(d, default_cache_dir(d), 40, 2, false);
  EXPECT_TRUE(find_image_cache(d, 40, &why_not)) << why_not;
}

TEST(DataLoader, CacheRecordsBadImages) {
  const Dataset d = small_demo("demo");
  truncate_image(d, 3);
  try {
    build_image_cache(d, default_cache_dir(d), 40, 2, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.train[3].path), std::string::npos) << e.what();
  }
  const CacheBuildReport r = build_image_cache(d, default_cache_dir(d), 40, 2, true);
  EXPECT_EQ(r.bad, 1);
  auto cache = find_image_cache(d, 40);
  ASSERT_TRUE(cache);
  LoaderConfig c;
  c.image_size = 40;
  Loader loader(d, d.train, [](int64_t s) { return s == 0 ? std::vector<int>{2, 3} : std::vector<int>{}; }, c, cache);
  try {
    loader.next();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.train[3].path), std::string::npos) << e.what();
  }
}

TEST(DataLoader, TrainingStreamResumesWithTheSameBatches) {
  const Dataset d = small_demo("demo");
  TrainingStreamConfig c;
  c.classes_per_batch = 4;
  c.images_per_class = 3;
  c.image_size = 32;
  c.seed = 8;
  c.workers = 2;
  TrainingStream walk(d, c), resumed(d, c);
  EXPECT_EQ(walk.steps_per_epoch(), 2);  // 8 items, 4 per batch
  std::vector<Batch> batches;
  for (int64_t t = 0; t < 5; ++t) batches.push_back(walk.batch(t));
  for (int64_t t : {3, 4}) expect_same(resumed.batch(t), batches[size_t(t)]);
  expect_same(resumed.batch(1), batches[1]);  // and backwards
  EXPECT_EQ(walk.cache_note(), "");           // no cache prepared

  // Image-wise, and a batch plan in the dataset's file order.
  c.image_wise = true;
  c.triplets_per_batch = 5;
  TrainingStream triplets(d, c);
  const Batch b = triplets.batch(0);
  ASSERT_EQ(b.size(), 15);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(b.labels[size_t(3 * k)], b.labels[size_t(3 * k + 1)]);
    EXPECT_NE(b.labels[size_t(3 * k)], b.labels[size_t(3 * k + 2)]);
  }
  const std::string plan = test::scratch_dir("plan") + "/plan.txt";
  std::ofstream(plan) << "0 1 4\n5 9 31\n";
  c.batch_plan = plan;
  TrainingStream planned(d, c);
  EXPECT_EQ(planned.steps_per_epoch(), 2);
  EXPECT_EQ(planned.batch(0).indices, (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(planned.batch(3).indices, (std::vector<int>{5, 9, 31}));

  // With a cache at the image size, it says so.
  build_image_cache(d, default_cache_dir(d), 32, 1, false);
  c.batch_plan.clear();
  TrainingStream cached(d, c);
  EXPECT_NE(cached.cache_note().find("images_32.json"), std::string::npos) << cached.cache_note();
}

// Divide & Conquer with the authors' epoch lengths (--batches-per-epoch max|min): an epoch without clusters
// (fine-tuning, one learner) has the training images over the batch size, rounded down, as their plain loader,
// not ceil(classes / N'); the batches are the batch-wise sampler's, whose passes over the classes go on across
// epochs, and after clustered epochs of another length they go on from the anchor's epoch.
TEST(DataLoader, DivideAndConquerEpochsWithoutClustersCountImages) {
  const Dataset d = small_demo("dnc_epochs");
  ASSERT_EQ(d.train.size(), 32u);  // 8 items x 4 views
  TrainingStreamConfig c;
  c.classes_per_batch = 2;
  c.images_per_class = 2;
  c.image_size = 32;
  c.seed = 3;
  TrainingStream plain(d, c);
  EXPECT_EQ(plain.steps_per_epoch(), 4);  // 8 classes, 2 per batch
  for (BatchesPerEpoch length : {BatchesPerEpoch::Max, BatchesPerEpoch::Min}) {
    c.dnc_epoch_length = length;
    TrainingStream authors(d, c);
    EXPECT_EQ(authors.steps_per_epoch(), 8);  // 32 images, 4 per batch
    for (int64_t t = 0; t < 12; ++t) EXPECT_EQ(authors.indices(t), plain.indices(t)) << "step " << t;
    // Clustered epochs before it ended at step 7: epoch 1 (0-based) starts there and draws the sampler's steps 8 on.
    authors.set_clusters({}, 0, EpochAnchor{7, 1});
    EXPECT_EQ(authors.steps_per_epoch(), 8);
    for (int64_t t = 7; t < 12; ++t) EXPECT_EQ(authors.indices(t), plain.indices(t + 1)) << "step " << t;
  }
  c.classes_per_batch = 8;  // a batch of 40 from 32 images: still one step per epoch
  c.images_per_class = 5;
  EXPECT_EQ(TrainingStream(d, c).steps_per_epoch(), 1);
  // Classes of a single image are dropped first, as the authors' one-cluster loader does: 3 of the 8 classes keep
  // one image, 23 images of which 20 count, in batches of 3: 6 steps (7 with the singles).
  Dataset singles = d;
  std::vector<ImageRecord> kept;
  std::map<int, int> seen;
  for (const ImageRecord& r : d.train)
    if (r.label >= 3 || seen[r.label]++ == 0) kept.push_back(r);
  singles.train = kept;
  ASSERT_EQ(singles.train.size(), 23u);
  c.classes_per_batch = 1;
  c.images_per_class = 3;
  EXPECT_EQ(TrainingStream(singles, c).steps_per_epoch(), 6);
}

TEST(DataLoader, DivideAndConquerTransformsAndTheCache) {
  // --train-crop random-resized and --eval-resize: each row is transform_image's, with the crop kind and the
  // evaluation resize passed through; the cache (squashed squares) is refused by the loader and left unused, with
  // the reason, by the training stream.
  const Dataset d = small_demo("cub", DemoLayout::Cub);  // 48 x 40 images with boxes
  BatchWiseSampler sampler(labels_of(d.train), 4, 2, 3);
  for (bool augment : {true, false}) {
    LoaderConfig c;
    c.image_size = 32;
    c.augment = augment;
    c.train_crop = TrainCrop::RandomResized;
    c.eval_resize = 37;
    c.seed = 4;
    Loader loader(d, d.train, [&](int64_t s) { return sampler.batch(s); }, c);
    const Batch b = loader.next();
    for (int i = 0; i < b.size(); ++i) {
      const ImageRecord& r = d.train[size_t(b.indices[size_t(i)])];
      std::vector<float> expected(3 * 32 * 32);
      transform_image(expected.data(), decode_image_file(r.path), r.box, 32,
                      {augment, mix_seed(4, uint64_t(b.step), uint64_t(i)), TrainCrop::RandomResized}, 37);
      EXPECT_EQ(std::memcmp(expected.data(), b.images.data() + size_t(i) * expected.size(), expected.size() * 4), 0)
          << "augment " << augment << " row " << i;
    }
  }
  build_image_cache(d, default_cache_dir(d), 32, 1, false);
  auto cache = find_image_cache(d, 32);
  ASSERT_TRUE(cache);
  LoaderConfig c;
  c.image_size = 32;
  c.augment = true;
  EXPECT_EQ(cache_unusable_for(c), "");  // the SGML crop takes its crop from the cached square
  c.train_crop = TrainCrop::RandomResized;
  EXPECT_NE(cache_unusable_for(c).find("--train-crop random-resized"), std::string::npos);
  const std::string refused =
      test::error_of([&] { Loader(d, d.train, [&](int64_t s) { return sampler.batch(s); }, c, cache); });
  EXPECT_NE(refused.find("cannot be used"), std::string::npos) << refused;
  c.augment = false;
  EXPECT_EQ(cache_unusable_for(c), "");  // evaluation without --eval-resize
  c.eval_resize = 40;
  EXPECT_NE(cache_unusable_for(c).find("--eval-resize"), std::string::npos);
  c.eval_resize = 31;  // below the image size
  const std::string too_small = test::error_of([&] {
    Loader(
        d, d.train, [&](int64_t s) { return sampler.batch(s); }, c);
  });
  EXPECT_NE(too_small.find("below the image size"), std::string::npos) << too_small;

  TrainingStreamConfig sc;
  sc.classes_per_batch = 4;
  sc.images_per_class = 2;
  sc.image_size = 32;
  sc.train_crop = TrainCrop::RandomResized;
  TrainingStream stream(d, sc);
  EXPECT_NE(stream.cache_note().find("not used: --train-crop random-resized"), std::string::npos)
      << stream.cache_note();
  EXPECT_EQ(stream.batch(0).size(), 8);
}

TEST(DataLoader, IndexOutsideTheListIsAnError) {
  const Dataset d = small_demo("demo");
  LoaderConfig c;
  c.image_size = 32;
  EXPECT_THROW(Loader(d, d.train, [](int64_t) { return std::vector<int>{0, 1000}; }, c), Error);
}

}  // namespace
