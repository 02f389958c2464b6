// The Stanford Online Products reader on small trees in the official layout, written here: the split by file, dense
// labels in class-id order, no attributes; each kind of defect gives an error naming the file and the line. Then the
// demo generator's SOP layout through the same reader, and `sgml info sop --json` on a full-size generated tree
// (the official counts, tiny images).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/demo_generator.h"
#include "data/image_io.h"
#include "data/sop_reader.h"
#include "engine/check.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

// Train classes 7 and 3 (listed out of order), test classes 12 and 15; 9 images.
struct SopTree {
  std::map<std::string, std::vector<std::string>> files;
  std::vector<std::string> not_on_disk;  // listed paths whose image is not written

  SopTree() {
    files["Ebay_train.txt"] = {"image_id class_id super_class_id path",
                               "1 7 1 bicycle_final/111085122871_0.JPG",
                               "2 7 1 bicycle_final/111085122871_1.JPG",
                               "3 3 5 fan_final/121000000003_0.JPG",
                               "4 3 5 fan_final/121000000003_1.JPG",
                               "5 3 5 fan_final/121000000003_2.JPG"};
    files["Ebay_test.txt"] = {"image_id class_id super_class_id path",
                              "1 12 12 toaster_final/131000000012_0.JPG",
                              "2  12  12   toaster_final/131000000012_1.JPG",  // runs of spaces
                              "3 15 3 chair_final/141000000015_0.JPG",
                              "4 15 3 chair_final/141000000015_1.JPG"};
  }

  std::string write(const std::string& parent) const {
    const fs::path root = fs::path(parent) / "Stanford_Online_Products";
    fs::create_directories(root);
    for (const auto& [name, lines] : files) {
      std::ofstream out(root / name);
      for (const auto& l : lines) out << l << "\n";
    }
    for (const auto& [name, lines] : files)
      for (size_t i = 1; i < lines.size(); ++i) {
        const auto t = lines[i].substr(lines[i].find_last_of(' ') + 1);
        if (std::find(not_on_disk.begin(), not_on_disk.end(), t) != not_on_disk.end()) continue;
        const fs::path p = root / t;
        std::error_code ec;
        fs::create_directories(p.parent_path(), ec);
        if (ec) continue;
        try {
          write_png(p.string(), RgbImage(12, 10, 90));
        } catch (const Error&) {
        }
      }
    return root.string();
  }
};

std::string error_of(const std::string& dir) { return test::error_of([&] { read_sop(dir); }); }

}  // namespace

TEST(DataSopReader, SplitsByFileWithDenseLabels) {
  const Dataset d = read_sop(SopTree().write(test::scratch_dir("sop")));
  EXPECT_EQ(d.kind, "sop");
  ASSERT_EQ(d.train.size(), 5u);
  ASSERT_EQ(d.test.size(), 4u);
  EXPECT_TRUE(d.query.empty() && d.gallery.empty());
  EXPECT_EQ(d.num_train_classes(), 2);
  EXPECT_EQ(d.num_test_classes(), 2);
  EXPECT_EQ(d.num_attributes(), 0);
  // Labels follow the class ids, not the order of the lines: class 3 is 0, class 7 is 1.
  EXPECT_EQ(d.train[0].item, "7");
  EXPECT_EQ(d.train[0].label, 1);
  EXPECT_EQ(d.train[2].item, "3");
  EXPECT_EQ(d.train[2].label, 0);
  EXPECT_EQ(d.test[0].label, 0);
  EXPECT_EQ(d.test[3].label, 1);
  EXPECT_FALSE(d.train[0].box.valid());
  EXPECT_NE(d.train[0].path.find("Stanford_Online_Products/bicycle_final/111085122871_0.JPG"), std::string::npos);
  EXPECT_NE(d.test[1].path.find("toaster_final/131000000012_1.JPG"), std::string::npos);
  EXPECT_EQ(load_dataset("sop", SopTree().write(test::scratch_dir("sop_kind"))).test.size(), 4u);
}

TEST(DataSopReader, NeedsData) {
  EXPECT_NE(test::error_of([] { load_dataset("sop"); }).find("needs --data DIR"), std::string::npos);
  EXPECT_NE(error_of("/nonexistent/sop").find("does not exist"), std::string::npos);
}

struct SopDefect {
  const char* name;
  std::function<void(SopTree&)> edit;
  std::vector<std::string> expected;
};

TEST(DataSopReader, EachDefectNamesFileAndLine) {
  const std::vector<SopDefect> defects = {
      {"missing test list", [](SopTree& t) { t.files.erase("Ebay_test.txt"); }, {"Ebay_test.txt not found"}},
      {"no header",
       [](SopTree& t) { t.files["Ebay_train.txt"].erase(t.files["Ebay_train.txt"].begin()); },
       {"Ebay_train.txt' line 1", "expected the header 'image_id class_id super_class_id path'", "without its header"}},
      {"other header",
       [](SopTree& t) { t.files["Ebay_test.txt"][0] = "image_id class_id path"; },
       {"Ebay_test.txt' line 1", "expected the header"}},
      {"empty file",
       [](SopTree& t) { t.files["Ebay_test.txt"].clear(); },
       {"Ebay_test.txt' line 1", "expected the header"}},
      {"only a header", [](SopTree& t) { t.files["Ebay_test.txt"].resize(1); }, {"Ebay_test.txt'", "no images"}},
      {"three columns",
       [](SopTree& t) { t.files["Ebay_train.txt"][3] = "3 3 fan_final/121000000003_0.JPG"; },
       {"Ebay_train.txt' line 4", "4 columns", "got 3"}},
      {"five columns",
       [](SopTree& t) { t.files["Ebay_test.txt"][2] = "2 12 12 toaster_final/a b.JPG"; },
       {"Ebay_test.txt' line 3", "4 columns", "got 5"}},
      {"id not a number",
       [](SopTree& t) { t.files["Ebay_train.txt"][2] = "two 7 1 bicycle_final/x.JPG"; },
       {"Ebay_train.txt' line 3", "image id 'two' is not an integer"}},
      {"class id zero",
       [](SopTree& t) { t.files["Ebay_train.txt"][1] = "1 0 1 bicycle_final/111085122871_0.JPG"; },
       {"Ebay_train.txt' line 2", "class id 0 is out of range"}},
      {"super-class 13",
       [](SopTree& t) { t.files["Ebay_test.txt"][4] = "4 15 13 chair_final/141000000015_1.JPG"; },
       {"Ebay_test.txt' line 5", "super-class id 13 is out of range (1 to 12)"}},
      {"duplicate image id",
       [](SopTree& t) { t.files["Ebay_train.txt"][5] = "4 3 5 fan_final/121000000003_2.JPG"; },
       {"Ebay_train.txt' line 6", "image id 4 is listed twice"}},
      {"image in both lists",
       [](SopTree& t) { t.files["Ebay_test.txt"][4] = "4 15 3 fan_final//121000000003_0.JPG"; },
       {"Ebay_test.txt' line 5: image 'fan_final//121000000003_0.JPG' is listed twice", "Ebay_train.txt' line 4)"}},
      {"two super-classes",
       [](SopTree& t) { t.files["Ebay_train.txt"][2] = "2 7 2 bicycle_final/111085122871_1.JPG"; },
       {"Ebay_train.txt' line 3", "class 7 has super-class 2 here and 1"}},
      {"class in both",
       [](SopTree& t) { t.files["Ebay_test.txt"][3] = "3 7 3 chair_final/141000000015_0.JPG"; },
       {"Ebay_test.txt' line 4", "class 7 is also in", "Ebay_train.txt"}},
      {"missing images",
       [](SopTree& t) {
         t.not_on_disk = {"fan_final/121000000003_1.JPG", "fan_final/121000000003_2.JPG"};
       },
       {"Ebay_train.txt' line 5", "fan_final/121000000003_1.JPG' is not on disk", "2 listed images are missing"}},
  };
  for (const SopDefect& defect : defects) {
    SopTree t;
    defect.edit(t);
    const std::string message = error_of(t.write(test::scratch_dir("sop_defect")));
    for (const std::string& part : defect.expected)
      EXPECT_NE(message.find(part), std::string::npos) << defect.name << ": '" << part << "' not in: " << message;
  }
}

TEST(DataSopReader, ReadsTheGeneratedLayout) {
  const std::string dir = test::scratch_dir("sop_demo") + "/Stanford_Online_Products";
  DemoSpec spec = DemoSpec::defaults(DemoLayout::Sop);
  write_demo_dataset(dir, DemoLayout::Sop, spec);
  const Dataset d = read_sop(dir);
  EXPECT_EQ(int(d.train.size()), spec.train_items * spec.views_per_item);
  EXPECT_EQ(int(d.test.size()), spec.test_items * spec.views_per_item);
  EXPECT_EQ(d.num_train_classes(), spec.train_items);
  EXPECT_EQ(d.num_test_classes(), spec.test_items);
  // Every super-class folder of the official archive is used, every image decodes.
  for (const std::string& folder : sop_super_class_folders())
    EXPECT_TRUE(fs::is_directory(fs::path(dir) / folder)) << folder;
  EXPECT_EQ(load_image_rgb(d.test.back().path).width, spec.width);
}

// The acceptance figure: the official counts from `sgml info sop --json` on a full-size tree.
TEST(DataSopReader, InfoReportsTheOfficialCountsOnAFullSizeTree) {
  const std::string dir = test::scratch_dir("sop_full") + "/Stanford_Online_Products";
  const test::RemovedAtExit remove{dir};  // 120,053 names: removed at the end
  write_demo_dataset(dir, DemoLayout::Sop, DemoSpec::full_size(DemoLayout::Sop));
  std::string out;
  ASSERT_EQ(test::run_command(test::sgml() + " info sop --data " + dir + " --json 2>/dev/null", &out), 0) << out;
  const nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["kind"], "sop");
  EXPECT_EQ(j["images_train"], 59551);
  EXPECT_EQ(j["classes_train"], 11318);
  EXPECT_EQ(j["images_test"], 60502);
  EXPECT_EQ(j["classes_test"], 11316);
  EXPECT_EQ(j["attributes"], 0);
  EXPECT_EQ(j["missing_images"], 0);
  EXPECT_TRUE(j["problems"].empty()) << j.dump();
}
