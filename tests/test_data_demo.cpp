// The demo generator: fast, byte-identical for a seed, read back through the In-shop and CUB readers with the
// counts and attributes it was asked for; train and test items differ; the default folder is generated once and a
// folder the generator did not write is never replaced. Also `sgml info` on the demos (text and JSON).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "data/cub_reader.h"
#include "data/dataset.h"
#include "data/dataset_info.h"
#include "data/demo_generator.h"
#include "data/demo_render.h"
#include "data/image_cache.h"
#include "data/image_decode.h"
#include "data/inshop_reader.h"
#include "engine/check.h"
#include "tests/support/test_support.h"
#include "tools/commands/commands.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

std::map<std::string, std::string> all_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      out[fs::relative(e.path(), dir).string()] = std::string(std::istreambuf_iterator<char>(in), {});
    }
  return out;
}

TEST(DataDemo, DefaultInshopIsFastAndReadsBack) {
  const std::string dir = test::scratch_dir("inshop");
  const DemoSpec spec = DemoSpec::defaults(DemoLayout::InShop);
  const auto start = std::chrono::steady_clock::now();
  write_demo_dataset(dir, DemoLayout::InShop, spec);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("default In-shop demo: %d images in %.2f s\n", (spec.train_items + spec.test_items) * spec.views_per_item,
              seconds);
  EXPECT_LT(seconds, 10.0);

  const Dataset d = read_inshop(dir);
  EXPECT_EQ(d.train.size(), 100u * 7);
  EXPECT_EQ(d.query.size(), 60u * 3);
  EXPECT_EQ(d.gallery.size(), 60u * 4);
  EXPECT_EQ(d.num_train_classes(), 100);
  EXPECT_EQ(d.num_test_classes(), 60);
  EXPECT_EQ(d.num_attributes(), 8 + 8 + 6 + 3 + 4);
  EXPECT_EQ(d.attribute_names[0], "shape circle");
  std::set<std::string> train_items, test_items;
  for (const auto& r : d.train) train_items.insert(r.item);
  for (const auto* list : {&d.query, &d.gallery})
    for (const auto& r : *list) test_items.insert(r.item);
  for (const auto& item : test_items) EXPECT_FALSE(train_items.count(item)) << item;
  // One value of each attribute group per item.
  for (const auto& row : d.attributes) {
    int offset = 0;
    for (const auto& g : demo_attribute_groups()) {
      float ones = 0;
      for (size_t i = 0; i < g.values.size(); ++i) ones += row[size_t(offset) + i];
      EXPECT_EQ(ones, 1.0f) << g.name;
      offset += int(g.values.size());
    }
  }
  const RgbImage im = decode_image_file(d.query[0].path);
  EXPECT_EQ(im.width, 64);
  EXPECT_EQ(im.height, 64);
}

TEST(DataDemo, ByteIdenticalForASeed) {
  DemoSpec spec;
  spec.train_items = 6;
  spec.test_items = 4;
  spec.views_per_item = 3;
  spec.query_views = 1;
  const std::string a = test::scratch_dir("a"), b = test::scratch_dir("b"), c = test::scratch_dir("c");
  write_demo_dataset(a, DemoLayout::InShop, spec);
  write_demo_dataset(b, DemoLayout::InShop, spec);
  spec.seed = 1;
  write_demo_dataset(c, DemoLayout::InShop, spec);
  const auto fa = all_files(a), fb = all_files(b), fc = all_files(c);
  EXPECT_EQ(fa.size(), 10u * 3 + 6);  // images + 5 list files + the version stamp
  EXPECT_TRUE(fa == fb);
  int images_differing = 0;
  for (const auto& [name, bytes] : fa)
    if (name.find(".jpg") != std::string::npos) images_differing += !fc.count(name) || fc.at(name) != bytes;
  EXPECT_GT(images_differing, 25);  // another seed draws other items and views
}

TEST(DataDemo, ItemsDifferAndViewsVary) {
  const std::vector<DemoItem> items = make_demo_items(200, 3);
  std::set<std::vector<float>> combos;
  for (const auto& it : items) combos.insert(it.attribute_vector());
  EXPECT_EQ(combos.size(), items.size());  // every item its own attribute combination
  // Two views of one item differ (position, scale, rotation, light, noise) but less than two different items.
  auto distance = [](const RgbImage& x, const RgbImage& y) {
    double d = 0;
    for (size_t i = 0; i < x.pixels.size(); ++i) d += std::fabs(double(x.pixels[i]) - y.pixels[i]);
    return d / double(x.pixels.size());
  };
  double same = 0, other = 0;
  for (int i = 0; i < 20; ++i) {
    const RgbImage v1 = render_demo_view(items[size_t(i)], draw_demo_view(items[size_t(i)], 64, 64, 1), 64, 64);
    const RgbImage v2 = render_demo_view(items[size_t(i)], draw_demo_view(items[size_t(i)], 64, 64, 2), 64, 64);
    const RgbImage w = render_demo_view(items[size_t(i + 1)], draw_demo_view(items[size_t(i + 1)], 64, 64, 2), 64, 64);
    EXPECT_GT(distance(v1, v2), 1.0);
    same += distance(v1, v2);
    other += distance(v1, w);
  }
  EXPECT_LT(same, other);
}

TEST(DataDemo, CubLayoutReadsBack) {
  const std::string dir = test::scratch_dir("cub");
  DemoSpec spec = DemoSpec::defaults(DemoLayout::Cub);
  spec.train_items = 10;  // the reader splits the 20 classes in half by id
  spec.test_items = 10;
  write_demo_dataset(dir, DemoLayout::Cub, spec);
  const Dataset d = read_cub(dir);
  EXPECT_EQ(d.train.size(), 10u * 6);
  EXPECT_EQ(d.test.size(), 10u * 6);
  EXPECT_EQ(d.num_train_classes(), 10);
  EXPECT_EQ(d.num_attributes(), 29);
  EXPECT_EQ(d.tolerated_defects.size(), 1u);  // the imitated extra-token line
  for (const auto& r : d.train) {
    ASSERT_TRUE(r.box.valid());
    EXPECT_GE(r.box.x, 0);
    EXPECT_LE(r.box.x + r.box.width, 80);
    EXPECT_LE(r.box.y + r.box.height, 72);
  }
}

TEST(DataDemo, DefaultFolderGeneratedOnceAndForeignFolderKept) {
  const std::string dir = test::scratch_dir("demo") + "/inshop";
  EXPECT_TRUE(ensure_demo_data("demo", dir));
  EXPECT_TRUE(demo_data_is_current(dir, DemoLayout::InShop));
  EXPECT_FALSE(ensure_demo_data("demo", dir));
  EXPECT_EQ(load_dataset("demo", dir).train.size(), 700u);
  // A folder the generator did not write stays as it is.
  const std::string foreign = test::scratch_dir("foreign");
  std::ofstream(foreign + "/mine.txt") << "keep";
  EXPECT_FALSE(ensure_demo_data("demo", foreign));
  EXPECT_TRUE(fs::exists(foreign + "/mine.txt"));
  EXPECT_FALSE(ensure_demo_data("cub", foreign));
}

TEST(DataDemo, InfoOnTheDemos) {
  const std::string dir = test::scratch_dir("info_inshop") + "/inshop";
  ensure_demo_data("demo", dir);
  nlohmann::ordered_json j = dataset_info(load_dataset("demo", dir));
  EXPECT_EQ(j["images_train"], 700);
  EXPECT_EQ(j["images_query"], 180);
  EXPECT_EQ(j["images_gallery"], 240);
  EXPECT_EQ(j["classes_train"], 100);
  EXPECT_EQ(j["classes_test"], 60);
  EXPECT_EQ(j["attributes"], 29);
  EXPECT_EQ(j["missing_images"], 0);
  EXPECT_TRUE(j["problems"].empty()) << j["problems"];
  EXPECT_FALSE(j.contains("images_test"));

  // A missing image is reported as a problem (the reader does not open images).
  fs::remove(load_dataset("demo", dir).gallery[5].path);
  j = dataset_info(load_dataset("demo", dir));
  EXPECT_EQ(j["missing_images"], 1);
  ASSERT_FALSE(j["problems"].empty());
  EXPECT_NE(format_dataset_info(j).find("1 image files are missing"), std::string::npos) << format_dataset_info(j);

  // The command, as `sgml info demo --data DIR --json`.
  std::string arg0 = "sgml", arg1 = "info", arg2 = "demo", arg3 = "--data", arg4 = dir, arg5 = "--json";
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), arg3.data(), arg4.data(), arg5.data()};
  testing::internal::CaptureStdout();
  EXPECT_EQ(run_info(6, argv), 0);
  std::fflush(stdout);
  const nlohmann::json printed = nlohmann::json::parse(testing::internal::GetCapturedStdout());
  EXPECT_EQ(printed["images_gallery"], 240);
  EXPECT_EQ(printed["missing_images"], 1);

  // The CUB layout has images_test and its tolerated defect.
  const std::string cub = test::scratch_dir("info_cub") + "/cub";
  ensure_demo_data("demo-cub", cub);
  j = dataset_info(load_dataset("demo-cub", cub));
  EXPECT_EQ(j["images_train"], 300);
  EXPECT_EQ(j["images_test"], 300);
  EXPECT_EQ(j["classes_test"], 50);
  EXPECT_EQ(j["tolerated_defects"].size(), 1u);
  EXPECT_FALSE(j.contains("images_query"));

  // Verifying, a bounding box outside its image is a problem named with the image (the reader cannot see it).
  const std::string boxes = cub + "/bounding_boxes.txt";
  std::ifstream in(boxes);
  std::string text((std::istreambuf_iterator<char>(in)), {}), first_line = text.substr(0, text.find('\n'));
  ASSERT_EQ(first_line.rfind("1 ", 0), 0u) << first_line;
  // Image 2's box reaches far past its image: cropped to the image, and counted as a tolerated defect with its name.
  const size_t second_end = text.find('\n', first_line.size() + 1);
  ASSERT_EQ(text.compare(first_line.size() + 1, 2, "2 "), 0) << text.substr(0, second_end);
  std::ofstream(boxes, std::ios::binary) << "1 5000 10 5 5\n2 1 1 900 900" << text.substr(second_end);
  DatasetInfoOptions verify;
  verify.verify_images = true;
  verify.workers = 2;
  const Dataset with_box = load_dataset("demo-cub", cub);
  j = dataset_info(with_box, verify);
  EXPECT_EQ(j["bad_images"], 1);
  const std::string report = format_dataset_info(j);
  EXPECT_NE(report.find("1 images cannot be used"), std::string::npos) << report;
  EXPECT_NE(report.find("its bounding box (x 5000, y 10, width 5, height 5) lies outside"), std::string::npos)
      << report;
  EXPECT_EQ(j["tolerated_defects"]["bounding boxes reaching over a pixel past their image (cropped to it)"], 1) << j;
  ASSERT_EQ(j["boxes_past_image"].size(), 1u) << j;
  const std::string second = j["boxes_past_image"][0];
  EXPECT_NE(second.find("box x 1, y 1, width 900, height 900 on a "), std::string::npos) << second;
  EXPECT_NE(report.find(second), std::string::npos) << report;

  // A cache of another size than the one asked about is named (the one asked about may be the wrong one).
  build_image_cache(with_box, default_cache_dir(with_box), 16, 1, /*skip_bad_images=*/true);
  DatasetInfoOptions at_32;
  at_32.cache_size = 32;
  j = dataset_info(with_box, at_32);
  EXPECT_TRUE(j["cache"].is_null());
  EXPECT_EQ(j["cache_sizes_elsewhere"].dump(), "[16]") << j;
  EXPECT_NE(format_dataset_info(j).find("decoded-image caches of other sizes (--cache-size): 16"), std::string::npos);
}

}  // namespace
