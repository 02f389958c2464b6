// The CUB reader on small trees in the official layout, written here: the class split (first half of the sorted
// class ids), bounding boxes, per-image attributes, the extra-token defect (tolerated and counted), attributes.txt
// in attributes/, the folder or its parent; each kind of defect gives an error naming the file and the line.
// Also: image decoding (grayscale JPEG to RGB, against PIL; missing, empty, truncated, corrupt files).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include "data/cub_reader.h"
#include "data/dataset.h"
#include "data/image_decode.h"
#include "engine/check.h"
#include "engine/safetensors.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

using namespace sgml;
namespace fs = std::filesystem;

namespace {

// 4 classes with ids 5, 10, 20, 40 listed out of order (train: 5 and 10), 7 images, 3 attributes.
struct CubTree {
  std::map<std::string, std::vector<std::string>> files;
  std::string names_at = "parent";  // attributes.txt in "parent" (as the official archive), "attributes" or "root"

  CubTree() {
    files["classes.txt"] = {"20 020.Gray_Catbird", "5 005.Crested_Auklet", "40 040.Olive_sided_Flycatcher",
                            "10 010.Red_winged_Blackbird"};
    files["images.txt"] = {
        "1 005.Crested_Auklet/Crested_Auklet_0001.jpg",  "2 005.Crested_Auklet/Crested_Auklet_0002.jpg",
        "3 010.Red_winged_Blackbird/Red_0003.jpg",       "4 020.Gray_Catbird/Gray_Catbird_0004.jpg",
        "5 020.Gray_Catbird/Gray_Catbird_0005.jpg",      "6 040.Olive_sided_Flycatcher/Olive_0006.jpg",
        "7 040.Olive_sided_Flycatcher/Olive_0007.jpg",
    };
    files["image_class_labels.txt"] = {"1 5", "2 5", "3 10", "4 20", "5 20", "6 40", "7 40"};
    files["train_test_split.txt"] = {"1 1", "2 0", "3 1", "4 0", "5 1", "6 0", "7 1"};
    files["bounding_boxes.txt"] = {"1 60.0 27.0 325.0 304.0", "2 1.5 2.5 10.0 12.0", "3 0 0 8 8",  "4 3.0 4.0 5.0 6.0",
                                   "5 1.0 1.0 7.0 7.0",      "6 2.0 2.0 4.0 4.0",     "7 0.0 0.0 9.0 9.0"};
    files["names"] = {"1 has_bill_shape::curved_(up_or_down)", "2 has_wing_color::blue",
                      "3 has_size::small_(5_-_9_in)"};
    std::vector<std::string>& labels = files["attributes/image_attribute_labels.txt"];
    for (int image = 1; image <= 7; ++image)
      for (int a = 1; a <= 3; ++a) {
        const int present = (image + a) % 2;
        labels.push_back(std::to_string(image) + " " + std::to_string(a) + " " + std::to_string(present) +
                         " 3 27.7080");
      }
    labels[10] = "4 2 1 0 4 16.7640";  // the official file's defect: an extra token (image 4, attribute 2)
    labels[13] = "5 2 1 3 0 10.1230";  // and again
  }

  // Writes DIR/CUB_200_2011/...; returns that folder.
  std::string write(const std::string& parent) const {
    const fs::path root = fs::path(parent) / "CUB_200_2011";
    for (const auto& [name, lines] : files) {
      fs::path path = root / name;
      if (name == "names")
        path = names_at == "parent" ? fs::path(parent) / "attributes.txt"
               : names_at == "root" ? root / "attributes.txt"
                                    : root / "attributes/attributes.txt";
      fs::create_directories(path.parent_path());
      std::ofstream out(path);
      for (const auto& l : lines) out << l << "\n";
    }
    for (const auto& line : files.at("images.txt")) {
      const fs::path p = root / "images" / line.substr(line.find(' ') + 1);
      std::error_code ec;  // (a garbled name may not be a valid path: then there is no image, as on a real disk)
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

std::string error_of(const std::string& dir) {
  try {
    read_cub(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

void expect_content(const Dataset& d) {
  ASSERT_EQ(d.train.size(), 3u);  // classes 5 and 10
  ASSERT_EQ(d.test.size(), 4u);   // classes 20 and 40
  EXPECT_TRUE(d.query.empty());
  EXPECT_EQ(d.num_train_classes(), 2);
  EXPECT_EQ(d.num_test_classes(), 2);
  EXPECT_EQ(d.train[0].item, "5");
  EXPECT_EQ(d.train[2].item, "10");
  EXPECT_EQ(d.train[0].label, 0);
  EXPECT_EQ(d.train[2].label, 1);
  EXPECT_EQ(d.test[0].item, "20");
  EXPECT_EQ(d.test[0].label, 0);  // dense within the test split
  EXPECT_EQ(d.test[3].label, 1);
  EXPECT_EQ(d.num_attributes(), 3);
  EXPECT_EQ(d.attribute_names[0], "has_bill_shape::curved_(up_or_down)");
  // Per image: is_present of (image + attribute) % 2; image 2 -> attributes 1, 2, 3 -> 1, 0, 1.
  EXPECT_EQ(d.attributes_of(d.train[1]), (std::vector<float>{1, 0, 1}));
  EXPECT_EQ(d.attributes_of(d.test[0]), (std::vector<float>{1, 1, 1}));  // image 4, attribute 2 read from its 3rd token
  EXPECT_FLOAT_EQ(d.train[1].box.x, 1.5f);
  EXPECT_FLOAT_EQ(d.train[1].box.height, 12.0f);
  EXPECT_NE(d.train[0].path.find("images/005.Crested_Auklet/Crested_Auklet_0001.jpg"), std::string::npos);
  ASSERT_EQ(d.tolerated_defects.size(), 1u);
  EXPECT_EQ(d.tolerated_defects.begin()->second, 2);
  EXPECT_NE(d.tolerated_defects.begin()->first.find("image_attribute_labels.txt"), std::string::npos);
}

TEST(DataCubReader, AttributeNamesNextToTheFolder) {
  expect_content(read_cub(CubTree().write(test::scratch_dir("cub"))));
}

TEST(DataCubReader, AttributeNamesInAttributesFolderOrRoot) {
  for (const char* where : {"attributes", "root"}) {
    CubTree t;
    t.names_at = where;
    expect_content(read_cub(t.write(test::scratch_dir(where))));
  }
}

// A copy without its attribute files (attributes.txt stays outside CUB_200_2011/ in the official archive) serves a
// run that needs no attributes: read without them, said in tolerated_defects; refused where they are needed.
TEST(DataCubReader, AttributeFilesMissWhereNoneAreNeeded) {
  for (const char* missing : {"names", "attributes/image_attribute_labels.txt"}) {
    SCOPED_TRACE(missing);
    CubTree t;
    t.files.erase(missing);
    const std::string root = t.write(test::scratch_dir(std::string("no_") + (missing[0] == 'n' ? "names" : "labels")));
    EXPECT_NE(test::error_of([&] { load_dataset("cub", root); }).find("not found"), std::string::npos);
    const Dataset d = load_dataset("cub", root, std::nullopt, /*attributes_needed=*/false);
    EXPECT_EQ(d.num_attributes(), 0);
    EXPECT_EQ(d.train.size() + d.test.size(), 7u);
    ASSERT_EQ(d.tolerated_defects.size(), 1u);
    const std::string& what = d.tolerated_defects.begin()->first;
    const std::string named = missing[0] == 'n' ? "the attribute names (attributes/attributes.txt)" : missing;
    EXPECT_NE(what.find("attribute file missing: " + named + ", no attributes read (not needed here)"),
              std::string::npos)
        << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;  // one line, as info prints each tolerated defect
  }
  // With the files there, they are read whether needed or not (a run's attribute head keeps its width).
  EXPECT_EQ(load_dataset("cub", CubTree().write(test::scratch_dir("all")), std::nullopt, false).num_attributes(), 3);
}

TEST(DataCubReader, LoadDatasetByKind) {
  const Dataset d = load_dataset("cub", CubTree().write(test::scratch_dir("cub")));
  EXPECT_EQ(d.kind, "cub");
  EXPECT_EQ(d.test.size(), 4u);
}

// Cropping is CUB's protocol (the SGML paper's) when --crop-boxes is not given; `false` reads whole images, the same
// records without their boxes (Divide & Conquer's authors read CUB so); the boxes are still read and checked.
TEST(DataCubReader, CroppedByDefaultWholeImagesOnRequest) {
  const std::string dir = CubTree().write(test::scratch_dir("cub_crop"));
  const Dataset by_default = load_dataset("cub", dir), cropped = load_dataset("cub", dir, true),
                whole = load_dataset("cub", dir, false);
  ASSERT_EQ(whole.train.size() + whole.test.size(), 7u);
  for (const Dataset* d : {&by_default, &cropped, &whole}) {
    ASSERT_EQ(d->train.size(), whole.train.size());
    ASSERT_EQ(d->test.size(), whole.test.size());
  }
  for (const auto& role : {&Dataset::train, &Dataset::test})
    for (size_t i = 0; i < (whole.*role).size(); ++i) {
      const ImageRecord &w = (whole.*role)[i], &c = (cropped.*role)[i], &b = (by_default.*role)[i];
      EXPECT_FALSE(w.box.valid()) << w.path;
      ASSERT_TRUE(c.box.valid()) << c.path;
      EXPECT_TRUE(b.box.valid()) << b.path;
      EXPECT_EQ(b.box.x, c.box.x);
      EXPECT_EQ(b.box.width, c.box.width);
      EXPECT_EQ(w.path, c.path);
      EXPECT_EQ(w.label, c.label);
      EXPECT_EQ(w.attribute_row, c.attribute_row);
    }
  EXPECT_EQ(whole.attributes, cropped.attributes);
  // The boxes are still read: a defect in bounding_boxes.txt is reported for whole images too.
  CubTree broken;
  broken.files["bounding_boxes.txt"].pop_back();
  const std::string message =
      test::error_of([&] { load_dataset("cub", broken.write(test::scratch_dir("cub_nobox")), false); });
  EXPECT_NE(message.find("has no bounding box"), std::string::npos) << message;
}

// What --crop-boxes resolves to for each kind: given, it says; not given, the kind's protocol (cub and demo-cub crop,
// cars does not); kinds without boxes never crop (load_dataset refuses a given true there).
TEST(DataCubReader, CropsToBoxesByKind) {
  EXPECT_TRUE(crops_to_boxes(DatasetKind::Cub, std::nullopt));
  EXPECT_TRUE(crops_to_boxes(DatasetKind::DemoCub, std::nullopt));
  EXPECT_FALSE(crops_to_boxes(DatasetKind::Cars, std::nullopt));
  EXPECT_FALSE(crops_to_boxes(DatasetKind::Cub, false));
  EXPECT_TRUE(crops_to_boxes(DatasetKind::Cars, true));
  for (const DatasetKind k : {DatasetKind::Sop, DatasetKind::DeepFashion, DatasetKind::Demo})
    for (const std::optional<bool> r : {std::optional<bool>(), std::optional<bool>(true), std::optional<bool>(false)})
      EXPECT_FALSE(crops_to_boxes(k, r));
}

struct Defect {
  const char* name;
  std::function<void(CubTree&)> edit;
  std::vector<std::string> expected;
};

TEST(DataCubReader, EachDefectNamesFileAndLine) {
  const std::vector<Defect> defects = {
      {"missing classes", [](CubTree& t) { t.files.erase("classes.txt"); }, {"classes.txt", "not found"}},
      {"missing attribute names",
       [](CubTree& t) { t.files.erase("names"); },
       {"attributes.txt", "not found", "attributes/attributes.txt"}},
      {"one token",
       [](CubTree& t) { t.files["images.txt"][2] = "3"; },
       {"images.txt' line 3", "<image_id> <image_name>"}},
      {"id not a number",
       [](CubTree& t) { t.files["images.txt"][1] = "two 005.Crested_Auklet/x.jpg"; },
       {"images.txt' line 2", "image id 'two' is not an integer"}},
      {"duplicate image",
       [](CubTree& t) { t.files["images.txt"][6] = "1 040.Olive_sided_Flycatcher/Olive_0007.jpg"; },
       {"images.txt' line 7", "listed twice"}},
      {"same image path twice",
       [](CubTree& t) { t.files["images.txt"][6] = "7 040.Olive_sided_Flycatcher/./Olive_0006.jpg"; },
       {"images.txt' line 7: image '040.Olive_sided_Flycatcher/./Olive_0006.jpg' is listed twice",
        "images.txt' line 6)"}},
      {"image without class",
       [](CubTree& t) { t.files["image_class_labels.txt"].erase(t.files["image_class_labels.txt"].begin() + 2); },
       {"images.txt' line 3", "has no class", "image_class_labels.txt"}},
      {"class not in classes.txt",
       [](CubTree& t) { t.files["image_class_labels.txt"][4] = "5 77"; },
       {"image_class_labels.txt' line 5", "class id 77", "classes.txt"}},
      {"unknown image id",
       [](CubTree& t) { t.files["bounding_boxes.txt"][3] = "99 1 1 2 2"; },
       {"bounding_boxes.txt' line 4", "image id 99 is not in images.txt"}},
      {"bad box number",
       [](CubTree& t) { t.files["bounding_boxes.txt"][0] = "1 60.0 27.0 wide 304.0"; },
       {"bounding_boxes.txt' line 1", "width 'wide' is not a number"}},
      {"box without area",
       [](CubTree& t) { t.files["bounding_boxes.txt"][1] = "2 1 1 0 5"; },
       {"bounding_boxes.txt' line 2", "no area"}},
      {"image without box",
       [](CubTree& t) { t.files["bounding_boxes.txt"].pop_back(); },
       {"images.txt' line 7", "no bounding box"}},
      {"short attribute line",
       [](CubTree& t) { t.files["attributes/image_attribute_labels.txt"][4] = "2 2 1"; },
       {"image_attribute_labels.txt' line 5", "expected '<image_id> <attribute_id> <is_present>"}},
      {"is_present not 0/1",
       [](CubTree& t) { t.files["attributes/image_attribute_labels.txt"][0] = "1 1 2 3 1.0"; },
       {"image_attribute_labels.txt' line 1", "is_present '2'"}},
      {"attribute id too large",
       [](CubTree& t) { t.files["attributes/image_attribute_labels.txt"][2] = "1 4 0 3 1.0"; },
       {"image_attribute_labels.txt' line 3", "attribute id 4"}},
      {"attribute twice",
       [](CubTree& t) { t.files["attributes/image_attribute_labels.txt"][2] = "1 1 0 3 1.0"; },
       {"image_attribute_labels.txt' line 3", "given twice"}},
      {"image without attributes",
       [](CubTree& t) {
         auto& l = t.files["attributes/image_attribute_labels.txt"];
         l.erase(l.begin() + 18, l.end());  // image 7 has none
       },
       {"images.txt' line 7", "has 0 of the 3 attributes", "image_attribute_labels.txt"}},
      {"attribute names out of order",
       [](CubTree& t) { t.files["names"][1] = "3 has_wing_color::blue"; },
       {"attributes.txt' line 2", "attribute id 3 where 2 was expected"}},
  };
  for (const Defect& d : defects) {
    CubTree t;
    d.edit(t);
    const std::string message = error_of(t.write(test::scratch_dir(d.name)));
    for (const std::string& part : d.expected)
      EXPECT_NE(message.find(part), std::string::npos) << d.name << ": " << message;
  }
}

TEST(DataCubReader, GarbageGivesErrorsNotCrashes) {
  std::mt19937 rng(4);
  const std::vector<std::string> junk = {"", "-3", "0", "1e9", "99999999999999999999", "nan", "inf", "1.5", "2",
                                         std::string(300, '7'), "x"};
  const std::string dir = test::scratch_dir("fuzz");
  int errors = 0;
  for (int round = 0; round < 300; ++round) {
    CubTree t;
    auto it = t.files.begin();
    std::advance(it, rng() % t.files.size());
    std::vector<std::string>& lines = it->second;
    std::string& line = lines[rng() % lines.size()];
    switch (rng() % 4) {
      case 0: line = line.substr(0, rng() % (line.size() + 1)); break;
      case 1: line += " " + junk[rng() % junk.size()]; break;
      case 2: line = junk[rng() % junk.size()] + line.substr(std::min(line.size(), size_t(rng() % 6))); break;
      default: lines.erase(lines.begin() + long(rng() % lines.size())); break;
    }
    fs::remove_all(dir);
    fs::create_directories(dir);
    try {
      read_cub(t.write(dir));
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(DataImageDecode, CorruptedBytesGiveErrorsNotCrashes) {
  const std::string dir = test::scratch_dir("fuzz");
  RgbImage im(48, 40);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 13 % 253);
  std::mt19937 rng(5);
  for (const std::vector<uint8_t>& clean : {encode_jpeg(im, 85), encode_png(im)})
    for (int round = 0; round < 200; ++round) {
      std::vector<uint8_t> bytes = clean;
      for (int k = 0; k < 1 + int(rng() % 8); ++k) bytes[rng() % bytes.size()] = uint8_t(rng());
      const std::string path = dir + "/x.img";
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
      try {
        const RgbImage out = decode_image_file(path);
        EXPECT_EQ(out.pixels.size(), size_t(out.width) * out.height * 3);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
      }
    }
}

TEST(DataImageDecode, GrayscaleJpegDecodesToRgb) {
  const std::string dir = test::scratch_dir("gray");
  test::run_reference("transforms_ref.py", {"gray", dir + "/gray.jpg", dir + "/gray.safetensors"});
  const std::vector<float> pil = load_safetensors(dir + "/gray.safetensors").at("gray").to_vector();
  const RgbImage im = decode_image_file(dir + "/gray.jpg");
  ASSERT_EQ(im.width, 40);
  ASSERT_EQ(im.height, 24);
  ASSERT_EQ(im.pixels.size(), size_t(40 * 24 * 3));
  double worst = 0;
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < 40; ++x) {
      EXPECT_EQ(im.at(x, y)[0], im.at(x, y)[1]);
      EXPECT_EQ(im.at(x, y)[0], im.at(x, y)[2]);
      worst = std::max(worst, std::fabs(im.at(x, y)[0] - double(pil[size_t(y) * 40 + x])));
    }
  // stb_image's and libjpeg's inverse DCTs round differently: a level or two.
  std::printf("grayscale JPEG: max |stb - PIL| = %.0f levels\n", worst);
  EXPECT_LE(worst, 2.0);
}

std::string decode_error(const std::string& path) {
  try {
    decode_image_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(DataImageDecode, BadFilesNameTheFile) {
  const std::string dir = test::scratch_dir("bad");
  RgbImage im(64, 48);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 7 % 251);
  const std::vector<uint8_t> jpg = encode_jpeg(im, 90), png = encode_png(im);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes, size_t n) {
    std::ofstream(dir + "/" + name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(n));
    return dir + "/" + name;
  };
  EXPECT_NO_THROW(decode_image_file(write("whole.jpg", jpg, jpg.size())));
  EXPECT_NO_THROW(decode_image_file(write("whole.png", png, png.size())));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {write("cut.jpg", jpg, jpg.size() * 2 / 3), "truncated JPEG"},
      {write("cut.png", png, png.size() - 20), "truncated PNG"},
      {write("empty.jpg", jpg, 0), "empty file"},
      {write("noise.jpg", std::vector<uint8_t>(500, 0x5A), 500), "bad image"},
      {dir + "/missing.jpg", "cannot open image"},
  };
  for (const auto& [path, what] : cases) {
    const std::string message = decode_error(path);
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
  }
}

}  // namespace
