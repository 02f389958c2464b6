// The Cars196 reader on small trees in the official layout, their cars_annos.mat written with libmatio here (as the
// official file: uint8/uint16 numbers, a 1 x N struct array, a cell array of names): the split by class (first half
// trains), dense labels, the optional crop to the box (MATLAB's 1-based inclusive corners); each kind of defect
// gives an error naming the file and the record. Then the generator's Cars layout through the same reader, and
// `sgml info cars --json` on a full-size generated tree (the official counts, tiny images).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "data/cars_annos_writer.h"
#include "data/cars_reader.h"
#include "data/dataset.h"
#include "data/demo_generator.h"
#include "data/image_cache.h"
#include "data/image_io.h"
#include "data/image_transform.h"
#include "engine/check.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

// Classes 1-4 (1, 2 train; 3, 4 test), 7 images listed out of class order.
struct CarsTree {
  std::vector<CarsAnnotation> annotations;
  std::vector<std::string> class_names = {"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Audi R8 Coupe 2012",
                                          "BMW M3 Coupe 2012"};
  CarsMatDefects defects;
  std::vector<std::string> not_on_disk;
  bool not_a_mat_file = false, no_mat_file = false;

  CarsTree() {
    const int classes[7] = {1, 3, 1, 2, 4, 3, 2};
    for (int i = 0; i < 7; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "car_ims/%06d.jpg", i + 1);
      annotations.push_back(
          {name, 3 + i, 4, 10 + i, 300 + i, classes[i], i % 2});  // y2 > 255: uint16, as the official file
    }
  }

  std::string write(const std::string& parent) const {
    const fs::path root = fs::path(parent) / "cars";
    fs::create_directories(root / "car_ims");
    if (not_a_mat_file) std::ofstream(root / "cars_annos.mat") << "MATLAB 5.0 MAT-file, but not really\n";
    else if (!no_mat_file) write_cars_annos_mat((root / "cars_annos.mat").string(), annotations, class_names, defects);
    for (const CarsAnnotation& a : annotations)
      if (std::find(not_on_disk.begin(), not_on_disk.end(), a.relative_im_path) == not_on_disk.end())
        write_png((root / a.relative_im_path).string(), RgbImage(12, 10, 90));
    return root.string();
  }
};

std::string error_of(const std::string& dir) { return test::error_of([&] { read_cars(dir); }); }

}  // namespace

TEST(DataCarsReader, SplitsByClassWithDenseLabels) {
  const Dataset d = read_cars(CarsTree().write(test::scratch_dir("cars")));
  EXPECT_EQ(d.kind, "cars");
  ASSERT_EQ(d.train.size(), 4u);  // records 1, 3, 4, 7 (classes 1, 1, 2, 2)
  ASSERT_EQ(d.test.size(), 3u);   // records 2, 5, 6 (classes 3, 4, 3)
  EXPECT_EQ(d.num_train_classes(), 2);
  EXPECT_EQ(d.num_test_classes(), 2);
  EXPECT_EQ(d.num_attributes(), 0);
  EXPECT_EQ(d.train[2].item, "2");
  EXPECT_EQ(d.train[2].label, 1);
  EXPECT_EQ(d.test[0].item, "3");
  EXPECT_EQ(d.test[0].label, 0);
  EXPECT_EQ(d.test[1].label, 1);
  EXPECT_NE(d.test[0].path.find("cars/car_ims/000002.jpg"), std::string::npos);
  EXPECT_FALSE(d.train[0].box.valid());  // not cropped by default (most metric-learning work does not)
  EXPECT_EQ(load_dataset("cars", CarsTree().write(test::scratch_dir("cars_kind"))).train.size(), 4u);
}

TEST(DataCarsReader, CropsToTheBoxWhenAsked) {
  CarsOptions crop;
  crop.crop = true;
  const Dataset d = read_cars(CarsTree().write(test::scratch_dir("cars_crop")), crop);
  // Record 2: x1 4, y1 4, x2 11, y2 301 (1-based inclusive) -> x 3, y 3, width 8, height 298.
  const BoundingBox& b = d.test[0].box;
  EXPECT_FLOAT_EQ(b.x, 3);
  EXPECT_FLOAT_EQ(b.y, 3);
  EXPECT_FLOAT_EQ(b.width, 8);
  EXPECT_FLOAT_EQ(b.height, 298);
}

namespace {

// A tree whose images are 40 x 30 noise (every pixel differs from its neighbours) with every box inside: a cache
// image cut from the wrong place would differ.
std::string noise_tree(const std::string& parent, CarsTree& t) {
  for (size_t i = 0; i < t.annotations.size(); ++i) {
    CarsAnnotation& a = t.annotations[i];
    a.x1 = 2 + int(i);
    a.y1 = 3;
    a.x2 = 30 + int(i);
    a.y2 = 20 + int(i);
  }
  const std::string dir = t.write(parent);
  uint32_t state = 12345;
  for (const CarsAnnotation& a : t.annotations) {
    RgbImage image(40, 30);
    for (uint8_t& v : image.pixels) v = uint8_t((state = state * 1664525u + 1013904223u) >> 24);
    write_png((fs::path(dir) / a.relative_im_path).string(), image);
  }
  return dir;
}

// The cache's image i cut by hand from the file: the annotation's 1-based inclusive corners, then the same resize.
std::vector<uint8_t> box_region_resized(const std::string& path, const CarsAnnotation& a, int size) {
  const RgbImage image = load_image_rgb(path);
  RgbImage cut(a.x2 - a.x1 + 1, a.y2 - a.y1 + 1);
  for (int y = 0; y < cut.height; ++y)
    for (int x = 0; x < cut.width; ++x) std::copy_n(image.at(a.x1 - 1 + x, a.y1 - 1 + y), 3, cut.at(x, y));
  std::vector<uint8_t> out(size_t(size) * size * 3);
  resize_window(out.data(), cut, {0, 0, cut.width, cut.height}, size, size);
  return out;
}

}  // namespace

// --crop-boxes reaches the reader through load_dataset; a cropped cache holds the box region's pixels; a cache
// prepared with the crop is not used without it and vice versa (the index records every box).
TEST(DataCarsReader, CroppedAndUncroppedRunsDoNotShareACache) {
  CarsTree t;
  const std::string dir = noise_tree(test::scratch_dir("cars_cache_crop"), t);
  const Dataset cropped = load_dataset("cars", dir, /*crop_boxes=*/true), whole = load_dataset("cars", dir);
  ASSERT_TRUE(cropped.train[0].box.valid());
  ASSERT_FALSE(whole.train[0].box.valid());

  build_image_cache(cropped, default_cache_dir(cropped), 16, 2, false);
  std::string why_not;
  const std::shared_ptr<const ImageCache> cache = find_image_cache(cropped, 16, &why_not);
  ASSERT_TRUE(cache) << why_not;
  for (const CarsAnnotation& a : t.annotations) {
    const int slot = cache->find((fs::path(dir) / a.relative_im_path).string());
    ASSERT_GE(slot, 0) << a.relative_im_path;
    EXPECT_EQ(cache->image(slot).pixels, box_region_resized((fs::path(dir) / a.relative_im_path).string(), a, 16))
        << a.relative_im_path;
  }
  EXPECT_FALSE(find_image_cache(whole, 16, &why_not));
  EXPECT_NE(why_not.find("other bounding boxes"), std::string::npos) << why_not;
  EXPECT_NE(why_not.find("rerun sgml prepare"), std::string::npos) << why_not;

  build_image_cache(whole, default_cache_dir(whole), 16, 2, false);
  EXPECT_TRUE(find_image_cache(whole, 16, &why_not)) << why_not;
  EXPECT_FALSE(find_image_cache(cropped, 16, &why_not));
  EXPECT_NE(why_not.find("other bounding boxes"), std::string::npos) << why_not;
}

// An index written before the boxes were recorded (version 1, no "boxes") is refused in plain words.
TEST(DataCarsReader, AnIndexOfTheOldVersionSaysPrepareAgain) {
  CarsTree t;
  const Dataset d = load_dataset("cars", noise_tree(test::scratch_dir("cars_cache_old"), t), true);
  const std::string index = build_image_cache(d, default_cache_dir(d), 16, 1, false).index_path;
  nlohmann::json j = nlohmann::json::parse(std::ifstream(index));
  j["version"] = 1;
  j.erase("boxes");
  std::ofstream(index) << j.dump();
  std::string why_not;
  EXPECT_FALSE(find_image_cache(d, 16, &why_not));
  for (const std::string part :
       {index, std::string("prepared by an older sgml"), std::string("run sgml prepare again")})
    EXPECT_NE(why_not.find(part), std::string::npos) << "'" << part << "' not in: " << why_not;
  EXPECT_NE(test::error_of([&] { ImageCache::open(index); }).find("prepared by an older sgml"), std::string::npos);
}

// --crop-boxes means nothing where there are no boxes: refused, naming the option and the dataset.
TEST(DataCarsReader, CropBoxesIsRefusedForKindsWithoutBoxes) {
  for (const char* kind : {"sop", "deepfashion", "demo"}) {
    const std::string message = test::error_of([&] { load_dataset(kind, "/nonexistent", true); });
    for (const std::string part :
         {std::string("--crop-boxes"), std::string("dataset ") + kind, std::string("no bounding boxes")})
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
  }
}

// The file our writer makes, read by scipy.io.loadmat (an independent MAT reader): the official file's shapes and
// types, every value; and our reader's split agrees with scipy's records.
TEST(DataCarsReader, WrittenFileAndReaderAgreeWithScipy) {
  SGML_SKIP_WITHOUT_MODULE("scipy.io", "SciPy");
  const CarsTree tree;
  const std::string dir = tree.write(test::scratch_dir("cars_scipy")), json = dir + "/scipy.json";
  test::run_reference("cars_mat_ref.py", {dir + "/cars_annos.mat", json});
  std::ifstream in(json);
  const nlohmann::json ref = nlohmann::json::parse(in);
  EXPECT_EQ(ref["annotations_shape"], nlohmann::json::array({1, 7}));
  EXPECT_EQ(ref["class_names_shape"], nlohmann::json::array({1, 4}));
  EXPECT_EQ(ref["class_names"].get<std::vector<std::string>>(), tree.class_names);
  ASSERT_EQ(ref["annotations"].size(), tree.annotations.size());
  std::multiset<std::string> train_paths, test_paths;
  for (size_t i = 0; i < tree.annotations.size(); ++i) {
    const CarsAnnotation& a = tree.annotations[i];
    const nlohmann::json& r = ref["annotations"][i];
    EXPECT_EQ(r["relative_im_path"], a.relative_im_path);
    EXPECT_EQ(r["bbox_x1"][0], a.x1);
    EXPECT_EQ(r["bbox_y1"][0], a.y1);
    EXPECT_EQ(r["bbox_x2"][0], a.x2);
    EXPECT_EQ(r["bbox_y2"][0], a.y2);
    EXPECT_EQ(r["class"][0], a.class_id);
    EXPECT_EQ(r["test"][0], a.test);
    EXPECT_EQ(r["bbox_x1"][1], "uint8");
    EXPECT_EQ(r["bbox_y2"][1], "uint16");  // 300 and more
    EXPECT_EQ(r["class"][2], nlohmann::json::array({1, 1}));
    (r["class"][0].get<int>() <= 2 ? train_paths : test_paths)
        .insert(dir + "/" + r["relative_im_path"].get<std::string>());
  }
  const Dataset d = read_cars(dir);
  std::multiset<std::string> read_train, read_test;
  for (const auto& r : d.train) read_train.insert(r.path);
  for (const auto& r : d.test) read_test.insert(r.path);
  EXPECT_EQ(read_train, train_paths);
  EXPECT_EQ(read_test, test_paths);
}

// A file scipy.io.savemat wrote (text as UTF-8, where MATLAB writes UTF-16): a path that is not ASCII is read whole
// (it lost a byte per accented letter, its dimensions counting characters).
TEST(DataCarsReader, ScipysUtf8TextIsReadWhole) {
  SGML_SKIP_WITHOUT_MODULE("scipy.io", "SciPy");
  const std::string dir = test::scratch_dir("cars_utf8") + "/cars";
  const std::vector<std::string> images = {"car_ims/wagen_\xC3\xB6.jpg", "car_ims/\xC3\xA9t\xC3\xA9.jpg",
                                           "car_ims/c.jpg", "car_ims/d.jpg"};
  fs::create_directories(dir + "/car_ims");
  for (const std::string& image : images) write_png(dir + "/" + image, RgbImage(12, 10, 90));
  test::run_reference("cars_mat_ref.py", {"--write", dir + "/cars_annos.mat", images[0], "1", "0", images[1], "1", "1",
                                          images[2], "2", "0", images[3], "2", "1"});
  const Dataset d = read_cars(dir);
  ASSERT_EQ(d.train.size(), 2u);
  EXPECT_EQ(d.train[0].path, dir + "/" + images[0]);
  EXPECT_EQ(d.train[1].path, dir + "/" + images[1]);
}

// A copy cut short (an interrupted download): an error naming the file, never a crash.
TEST(DataCarsReader, TruncatedFileIsAnError) {
  const std::string dir = CarsTree().write(test::scratch_dir("cars_cut")), mat = dir + "/cars_annos.mat";
  const auto size = fs::file_size(mat);
  for (double keep : {0.1, 0.5, 0.9}) {
    fs::resize_file(mat, uintmax_t(double(size) * keep));
    const std::string message = error_of(dir);
    EXPECT_NE(message.find("cars_annos.mat'"), std::string::npos) << keep << ": " << message;
    CarsTree().write(fs::path(dir).parent_path().string());  // whole again for the next cut
  }
}

// Files whose data is shorter than their dimensions claim (found by fuzz/fuzz_cars, kept in fuzz/regressions/cars/):
// libmatio takes the dimensions from the file and its accessors index the data without a bound, so the reader
// checks that a variable holds what it claims before reading it (the first read 2 bytes past a name, the second a
// null list of field names), and names the file and the variable.
TEST(DataCarsReader, DataShorterThanItsDimensionsIsAnError) {
  const std::string regressions = test::source_dir() + "/fuzz/regressions/cars/";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"class_name_shorter_than_its_dims", {"class_names{4} is a char array of 1 x 21 whose data holds 40 bytes"}},
      {"struct_without_field_names", {"annotations is a struct of 1 x 8 with 7 fields but holds fewer"}}};
  for (const auto& [file, parts] : cases) {
    const std::string dir = CarsTree().write(test::scratch_dir("cars_short_" + file));
    fs::copy_file(regressions + file, dir + "/cars_annos.mat", fs::copy_options::overwrite_existing);
    const std::string message = error_of(dir);
    EXPECT_NE(message.find("'" + dir + "/cars_annos.mat'"), std::string::npos) << file << ": " << message;
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << file << ": " << message;
  }
}

struct CarsDefect {
  const char* name;
  std::function<void(CarsTree&)> edit;
  std::vector<std::string> expected;
};

TEST(DataCarsReader, EachDefectNamesFileAndRecord) {
  const std::vector<CarsDefect> defects = {
      {"no mat file", [](CarsTree& t) { t.no_mat_file = true; }, {"cars_annos.mat not found", "car_ims/"}},
      {"not a mat file", [](CarsTree& t) { t.not_a_mat_file = true; }, {"cars_annos.mat' is not a MATLAB .mat file"}},
      {"no class_names",
       [](CarsTree& t) { t.defects.omit_class_names = true; },
       {"cars_annos.mat': no variable 'class_names'"}},
      {"class_names a matrix",
       [](CarsTree& t) { t.defects.names_as_matrix = true; },
       {"variable 'class_names' is a numeric matrix of 1 x 4", "expected a 1 x C cell array"}},
      {"no bbox_y2", [](CarsTree& t) { t.defects.omit_field = "bbox_y2"; }, {"has no field 'bbox_y2'"}},
      {"no relative_im_path",
       [](CarsTree& t) { t.defects.omit_field = "relative_im_path"; },
       {"has no field 'relative_im_path'"}},
      {"class as text",
       [](CarsTree& t) { t.defects.text_field = "class"; },
       {"annotations record 1: class is a char array of 1 x 4", "expected a finite number"}},
      {"class out of range",
       [](CarsTree& t) { t.annotations[4].class_id = 5; },
       {"annotations record 5: class 5 is out of range (1 to 4"}},
      {"class zero", [](CarsTree& t) { t.annotations[0].class_id = 0; }, {"record 1: class 0 is out of range"}},
      {"test flag 2", [](CarsTree& t) { t.annotations[2].test = 2; }, {"record 3: test 2 is not 0 or 1"}},
      {"box inverted", [](CarsTree& t) { t.annotations[3].x2 = 1; }, {"record 4: the box", "x1 <= x2"}},
      {"path twice",
       [](CarsTree& t) { t.annotations[6].relative_im_path = t.annotations[1].relative_im_path; },
       {"record 7: image 'car_ims/000002.jpg' is listed twice (also at", "annotations record 2)"}},
      {"path twice, written differently",
       [](CarsTree& t) { t.annotations[6].relative_im_path = "car_ims/./000002.jpg"; },
       {"record 7: image 'car_ims/./000002.jpg' is listed twice", "annotations record 2)"}},
      {"missing images",
       [](CarsTree& t) {
         t.not_on_disk = {"car_ims/000003.jpg", "car_ims/000006.jpg"};
       },
       {"record 3: image", "car_ims/000003.jpg' is not on disk", "2 listed images are missing"}},
      {"one class",
       [](CarsTree& t) {
         t.class_names.resize(1);
         for (auto& a : t.annotations) a.class_id = 1;
       },
       {"class_names holds 1 names, expected at least 2"}},
  };
  for (const CarsDefect& defect : defects) {
    CarsTree t;
    defect.edit(t);
    const std::string message = error_of(t.write(test::scratch_dir("cars_defect")));
    for (const std::string& part : defect.expected)
      EXPECT_NE(message.find(part), std::string::npos) << defect.name << ": '" << part << "' not in: " << message;
  }
}

TEST(DataCarsReader, ReadsTheGeneratedLayout) {
  const std::string dir = test::scratch_dir("cars_demo") + "/cars";
  const DemoSpec spec = DemoSpec::defaults(DemoLayout::Cars);
  write_demo_dataset(dir, DemoLayout::Cars, spec);
  CarsOptions crop;
  crop.crop = true;
  const Dataset d = read_cars(dir, crop);
  EXPECT_EQ(int(d.train.size()), spec.train_items * spec.views_per_item);
  EXPECT_EQ(int(d.test.size()), spec.test_items * spec.views_per_item);
  EXPECT_EQ(d.num_train_classes(), spec.train_items);
  EXPECT_EQ(d.num_test_classes(), spec.test_items);
  for (const ImageRecord& r : d.test) {  // the object's box lies inside the image
    ASSERT_TRUE(r.box.valid()) << r.path;
    EXPECT_LE(r.box.x + r.box.width, float(spec.width)) << r.path;
    EXPECT_LE(r.box.y + r.box.height, float(spec.height)) << r.path;
  }
  EXPECT_EQ(load_image_rgb(d.train.front().path).height, spec.height);
}

TEST(DataCarsReader, InfoReportsTheOfficialCountsOnAFullSizeTree) {
  const std::string dir = test::scratch_dir("cars_full") + "/cars";
  const test::RemovedAtExit remove{dir};  // 16,185 names: removed at the end
  write_demo_dataset(dir, DemoLayout::Cars, DemoSpec::full_size(DemoLayout::Cars));
  std::string out;
  ASSERT_EQ(test::run_command(test::sgml() + " info cars --data " + dir + " --json 2>/dev/null", &out), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["kind"], "cars");
  EXPECT_EQ(j["images_train"], 8054);
  EXPECT_EQ(j["classes_train"], 98);
  EXPECT_EQ(j["images_test"], 8131);
  EXPECT_EQ(j["classes_test"], 98);
  EXPECT_EQ(j["attributes"], 0);
  EXPECT_EQ(j["missing_images"], 0);
  EXPECT_TRUE(j["problems"].empty()) << j.dump();
}
