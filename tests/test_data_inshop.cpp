// The In-shop reader on small trees in the official layout, written here: its quirks (count and header lines, runs
// of spaces, CRLF, a byte-order mark, img/ at the root or under Img/, attribute files in Anno/ or Anno/attributes/,
// names with spaces, a type column) and, for each kind of defect, the error naming the file and the line.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <random>

#include "data/dataset.h"
#include "data/inshop_reader.h"
#include "engine/check.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

// A tiny In-shop tree as lines per file; tests edit lines before writing.
struct InshopTree {
  std::map<std::string, std::vector<std::string>> files;
  std::string image_dir = "Img";       // "Img" (official) or "" (img/ at the root)
  std::string attribute_dir = "Anno";  // or "Anno/attributes"
  std::string newline = "\n";
  std::string first_bytes;  // written before line 1 of every file (a byte-order mark)

  InshopTree() {
    files["Eval/list_eval_partition.txt"] = {
        "7",
        "image_name item_id evaluation_status",
        "img/WOMEN/Dresses/id_00000002/02_1_front.jpg      id_00000002 train",
        "img/WOMEN/Dresses/id_00000002/02_2_side.jpg       id_00000002 train",
        "img/MEN/Denim/id_00000007/01_1_front.jpg          id_00000007   train",
        "img/WOMEN/Skirts/id_00000009/01_1_front.jpg       id_00000009 query",
        "img/WOMEN/Skirts/id_00000009/01_2_side.jpg        id_00000009 gallery",
        "img/MEN/Tees/id_00000011/01_1_front.jpg           id_00000011 gallery",
        "img/MEN/Tees/id_00000011/01_2_side.jpg  \t        id_00000011 query",
    };
    files["attr/list_attr_cloth.txt"] = {"3", "attribute_name", "Multi-color", "long sleeve", "a line"};
    files["attr/list_attr_items.txt"] = {
        "4",
        "item_id attribute_labels",
        "id_00000002 1 -1 0",
        "id_00000007 -1 1 1",
        "id_00000009   0  0  1",
        "id_00000011 1 1 -1",
    };
  }

  std::string write(const std::string& dir) const {
    for (const auto& [name, lines] : files) {
      std::string path = name;
      if (path.rfind("attr/", 0) == 0) path = attribute_dir + "/" + path.substr(5);
      fs::create_directories((fs::path(dir) / path).parent_path());
      std::ofstream out(fs::path(dir) / path, std::ios::binary);
      out << first_bytes;
      for (const auto& l : lines) out << l << newline;
    }
    // The images named in the partition file.
    if (!files.count("Eval/list_eval_partition.txt")) return dir;
    const auto& partition = files.at("Eval/list_eval_partition.txt");
    for (size_t i = 2; i < partition.size(); ++i) {
      const std::string name = partition[i].substr(0, partition[i].find(' '));
      const fs::path p = fs::path(dir) / image_dir / name;
      std::error_code ec;  // (a garbled name may not be a valid path: then there is no image, as on a real disk)
      fs::create_directories(p.parent_path(), ec);
      RgbImage im(8, 8, uint8_t(20 * i));
      const std::vector<uint8_t> jpg = encode_jpeg(im, 90);
      std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(jpg.data()), std::streamsize(jpg.size()));
    }
    return dir;
  }
};

std::string error_of(const std::string& dir) {
  try {
    read_inshop(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void expect_official_content(const Dataset& d) {
  ASSERT_EQ(d.train.size(), 3u);
  ASSERT_EQ(d.query.size(), 2u);
  ASSERT_EQ(d.gallery.size(), 2u);
  EXPECT_EQ(d.num_train_classes(), 2);
  EXPECT_EQ(d.num_test_classes(), 2);
  EXPECT_EQ(d.attribute_names, (std::vector<std::string>{"Multi-color", "long sleeve", "a line"}));
  // Labels: train items in order of appearance; query and gallery share one numbering.
  EXPECT_EQ(d.train[0].label, 0);
  EXPECT_EQ(d.train[1].label, 0);
  EXPECT_EQ(d.train[2].label, 1);
  EXPECT_EQ(d.query[0].item, "id_00000009");
  EXPECT_EQ(d.query[0].label, d.gallery[0].label);
  EXPECT_EQ(d.query[1].label, d.gallery[1].label);
  EXPECT_NE(d.query[0].label, d.query[1].label);
  // 1 -> 1, -1 and 0 -> 0, every image of an item shares its row.
  EXPECT_EQ(d.attributes_of(d.train[0]), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(d.attributes_of(d.train[1]), (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(d.attributes_of(d.train[2]), (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(d.attributes_of(d.query[0]), (std::vector<float>{0, 0, 1}));
  EXPECT_EQ(d.attributes_of(d.gallery[1]), (std::vector<float>{1, 1, 0}));
  for (const auto* list : {&d.train, &d.query, &d.gallery})
    for (const auto& r : *list) {
      EXPECT_TRUE(fs::is_regular_file(r.path)) << r.path;
      EXPECT_FALSE(r.box.valid());  // In-shop images are not cropped
    }
}

TEST(DataInshopReader, OfficialLayout) {
  const Dataset d = read_inshop(InshopTree().write(test::scratch_dir("inshop")));
  expect_official_content(d);
  EXPECT_TRUE(d.tolerated_defects.empty());
  EXPECT_NE(d.train[0].path.find("/Img/img/WOMEN/Dresses/id_00000002/02_1_front.jpg"), std::string::npos);
}

// As Windows editors save them: CRLF line ends and a UTF-8 byte-order mark first (which line 1's count, "7", used to
// carry into "not a number" errors).
TEST(DataInshopReader, ImgAtRootAttributesSubfolderCrlfByteOrderMark) {
  InshopTree t;
  t.image_dir = "";
  t.attribute_dir = "Anno/attributes";
  t.newline = "\r\n";
  t.first_bytes = "\xEF\xBB\xBF";
  const std::string dir = t.write(test::scratch_dir("inshop"));
  const Dataset d = read_inshop(dir);
  expect_official_content(d);
  EXPECT_EQ(d.train[0].path, (fs::path(dir) / "img/WOMEN/Dresses/id_00000002/02_1_front.jpg").string());
}

TEST(DataInshopReader, TypeColumnIsDropped) {
  InshopTree t;
  t.files["attr/list_attr_cloth.txt"] = {"3", "attribute_name  attribute_type", "Multi-color   1", "long sleeve  2",
                                         "a line  3"};
  expect_official_content(read_inshop(t.write(test::scratch_dir("inshop"))));
}

TEST(DataInshopReader, BlankTrailingLinesAreIgnored) {
  InshopTree t;
  t.files["Eval/list_eval_partition.txt"].push_back("");
  t.files["Eval/list_eval_partition.txt"].push_back("   ");
  expect_official_content(read_inshop(t.write(test::scratch_dir("inshop"))));
}

struct Defect {
  const char* name;
  std::function<void(InshopTree&)> edit;
  std::vector<std::string> expected;  // substrings of the error
};

TEST(DataInshopReader, EachDefectNamesFileAndLine) {
  const std::vector<Defect> defects = {
      {"missing attribute file",
       [](InshopTree& t) { t.files.erase("attr/list_attr_items.txt"); },
       {"list_attr_items.txt", "not found", "Anno/attributes/list_attr_items.txt"}},
      {"missing partition",
       [](InshopTree& t) { t.files.erase("Eval/list_eval_partition.txt"); },
       {"list_eval_partition.txt", "not found"}},
      {"two tokens",
       [](InshopTree& t) {
         t.files["Eval/list_eval_partition.txt"][4] = "img/MEN/Denim/id_00000007/01_1_front.jpg id_00000007";
       },
       {"list_eval_partition.txt' line 5", "expected '<image_name> <item_id> <status>'"}},
      {"unknown status",
       [](InshopTree& t) { t.files["Eval/list_eval_partition.txt"][3] = "img/a.jpg id_00000002 validation"; },
       {"list_eval_partition.txt' line 4", "status 'validation'"}},
      {"item without attributes",
       [](InshopTree& t) { t.files["Eval/list_eval_partition.txt"][6] = "img/b.jpg id_00000099 gallery"; },
       {"list_eval_partition.txt' line 7", "id_00000099 has no attributes", "list_attr_items.txt"}},
      {"item in train and test",
       [](InshopTree& t) { t.files["Eval/list_eval_partition.txt"][5] = "img/c.jpg id_00000002 query"; },
       {"list_eval_partition.txt' line 6", "both the train and the test"}},
      {"count disagrees",
       [](InshopTree& t) { t.files["Eval/list_eval_partition.txt"][0] = "52712"; },
       {"list_eval_partition.txt' line 1", "says 52712"}},
      {"no count line",
       [](InshopTree& t) { t.files["attr/list_attr_cloth.txt"][0] = "attribute_name"; },
       {"list_attr_cloth.txt' line 1", "number of attributes"}},
      {"value not 1/-1/0",
       [](InshopTree& t) { t.files["attr/list_attr_items.txt"][3] = "id_00000007 -1 2 1"; },
       {"list_attr_items.txt' line 4", "'2' is not 1, -1 or 0"}},
      {"too few values",
       [](InshopTree& t) { t.files["attr/list_attr_items.txt"][2] = "id_00000002 1 -1"; },
       {"list_attr_items.txt' line 3", "expected an item id and 3 attribute values", "got 3 tokens"}},
      {"item twice",
       [](InshopTree& t) { t.files["attr/list_attr_items.txt"][5] = "id_00000002 1 1 1"; },
       {"list_attr_items.txt' line 6", "listed twice"}},
      {"image twice",
       [](InshopTree& t) {
         t.files["Eval/list_eval_partition.txt"][8] = "img/MEN/Tees/id_00000011/01_1_front.jpg id_00000011 query";
       },
       {"list_eval_partition.txt' line 9: image 'img/MEN/Tees/id_00000011/01_1_front.jpg' is listed twice",
        "list_eval_partition.txt' line 8)"}},
  };
  for (const Defect& d : defects) {
    InshopTree t;
    d.edit(t);
    const std::string message = error_of(t.write(test::scratch_dir(d.name)));
    for (const std::string& part : d.expected)
      EXPECT_NE(message.find(part), std::string::npos) << d.name << ": " << message;
  }
}

TEST(DataInshopReader, GarbageGivesErrorsNotCrashes) {
  // Random edits of random lines (tokens dropped, duplicated, replaced by junk, lines cut): the reader either reads
  // the tree or throws sgml::Error; any other exception fails, a crash ends the test program.
  std::mt19937 rng(3);
  const std::vector<std::string> junk = {"", "-", "1e9", "99999999999999999999", "id_x", "\t", "train", "0", "-1",
                                         "img/../../x.jpg", std::string(300, 'a'), "\xff\xfe"};
  const std::string dir = test::scratch_dir("fuzz");
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    InshopTree t;
    auto it = t.files.begin();
    std::advance(it, rng() % t.files.size());
    std::vector<std::string>& lines = it->second;
    std::string& line = lines[rng() % lines.size()];
    switch (rng() % 4) {
      case 0: line = line.substr(0, rng() % (line.size() + 1)); break;
      case 1: line += " " + junk[rng() % junk.size()]; break;
      case 2: line = junk[rng() % junk.size()] + line.substr(std::min(line.size(), size_t(rng() % 12))); break;
      default: lines.erase(lines.begin() + long(rng() % lines.size())); break;
    }
    for (const char* sub : {"Eval", "Anno", "Img"}) fs::remove_all(fs::path(dir) / sub);
    try {
      read_inshop(t.write(dir));
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(DataInshopReader, MissingFolderIsAnError) {
  const std::string message = error_of(test::scratch_dir("x") + "/nothing_here");
  EXPECT_NE(message.find("nothing_here"), std::string::npos) << message;
  EXPECT_NE(message.find("does not exist"), std::string::npos) << message;
}

TEST(DataInshopReader, LoadDatasetByKind) {
  const std::string dir = InshopTree().write(test::scratch_dir("inshop"));
  const Dataset d = load_dataset("deepfashion", dir);
  EXPECT_EQ(d.kind, "deepfashion");
  EXPECT_EQ(d.train.size(), 3u);
  EXPECT_THROW(load_dataset("deepfashion", ""), Error);  // needs --data
  EXPECT_THROW(load_dataset("imagenet", dir), Error);
}

}  // namespace
