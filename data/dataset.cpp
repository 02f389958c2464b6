#include "data/dataset.h"

#include <algorithm>
#include <filesystem>

#include "data/cars_reader.h"
#include "data/cub_reader.h"
#include "data/demo_generator.h"
#include "data/inshop_reader.h"
#include "data/output_paths.h"
#include "engine/check.h"
#include "data/project_paths.h"
#include "data/sop_reader.h"

namespace sgml {

namespace fs = std::filesystem;

std::vector<int> labels_of(const std::vector<ImageRecord>& images) {
  std::vector<int> labels(images.size());
  for (size_t i = 0; i < images.size(); ++i) labels[i] = images[i].label;
  return labels;
}

int num_classes(const std::vector<ImageRecord>& images) {
  int most = -1;
  for (const auto& r : images) most = std::max(most, r.label);
  return most + 1;
}

int Dataset::num_train_classes() const { return num_classes(train); }

int Dataset::num_test_classes() const {
  return query_gallery() ? std::max(num_classes(query), num_classes(gallery)) : num_classes(test);
}

DatasetKind parse_dataset_kind(const std::string& name) {
  for (DatasetKind k : {DatasetKind::Cub, DatasetKind::DeepFashion, DatasetKind::Sop, DatasetKind::Cars,
                        DatasetKind::Demo, DatasetKind::DemoCub})
    if (name == dataset_kind_name(k)) return k;
  SGML_FAIL("unknown dataset '", name, "': expected cub, deepfashion, sop, cars, demo or demo-cub");
}

const char* dataset_kind_name(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::Cub: return "cub";
    case DatasetKind::DeepFashion: return "deepfashion";
    case DatasetKind::Demo: return "demo";
    case DatasetKind::DemoCub: return "demo-cub";
    case DatasetKind::Sop: return "sop";
    case DatasetKind::Cars: return "cars";
  }
  return "?";
}

std::string default_data_dir(const std::string& kind) {
  switch (parse_dataset_kind(kind)) {
    case DatasetKind::Demo: return project_path("demo_data/inshop");
    case DatasetKind::DemoCub: return project_path("demo_data/cub");
    default: return "";
  }
}

bool ensure_demo_data(const std::string& kind_name, const std::string& dir) {
  const DatasetKind kind = parse_dataset_kind(kind_name);
  if (!is_demo(kind)) return false;
  const DemoLayout layout = kind == DatasetKind::Demo ? DemoLayout::InShop : DemoLayout::Cub;
  if (demo_data_is_current(dir, layout)) return false;
  // A folder of data in the same layout that we did not generate is read as it is, never replaced.
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec) && !fs::exists(fs::path(dir) / kDemoStampFile, ec)) return false;
  // The dataset is written beside `dir` and renamed: its parent folder must be creatable (named in plain words).
  const std::string parent = fs::path(dir).parent_path().string();
  if (!parent.empty()) create_output_folder(parent, "folder of the demo dataset");
  write_demo_dataset_atomically(dir, layout, DemoSpec::defaults(layout));
  return true;
}

bool has_bounding_boxes(DatasetKind kind) {
  return kind == DatasetKind::Cub || kind == DatasetKind::DemoCub || kind == DatasetKind::Cars;
}

bool crops_to_boxes(DatasetKind kind, std::optional<bool> requested) {
  if (!has_bounding_boxes(kind)) return false;
  return requested.value_or(kind == DatasetKind::Cub || kind == DatasetKind::DemoCub);
}

std::string dataset_dir(const std::string& kind_name, const std::string& dir_given) {
  const DatasetKind kind = parse_dataset_kind(kind_name);
  const std::string dir = dir_given.empty() ? default_data_dir(kind_name) : dir_given;
  const char* wanted =
      kind == DatasetKind::Cub    ? "the extracted CUB_200_2011/ folder"
      : kind == DatasetKind::Sop  ? "the extracted Stanford_Online_Products/ folder with Ebay_train.txt"
      : kind == DatasetKind::Cars ? "the folder holding car_ims/ and cars_annos.mat"
                                  : "the In-shop root with Img/, Eval/ and Anno/";
  if (dir.empty()) SGML_FAIL("dataset ", kind_name, " needs --data DIR (", wanted, ")");
  // Said here, before anything else is looked for (the pretrained weights): the demo's folder is written when missing.
  std::error_code ec;
  // The demo's folder is written when missing, but a file in its place is the user's to fix.
  if ((!is_demo(kind) || std::filesystem::exists(dir, ec)) && !std::filesystem::is_directory(dir, ec))
    SGML_FAIL("dataset ", kind_name, ": the --data folder '", dir, "' ",
              std::filesystem::exists(dir, ec) ? "is a file, not a folder" : "does not exist", " (expected ", wanted,
              ")");
  return dir;
}

std::string path_below_root(const std::string& path, const std::string& root) {
  if (root.empty() || path.rfind(root, 0) != 0) return path;
  std::string name = path.substr(root.size());
  name.erase(0, name.find_first_not_of('/'));  // a root given with or without its final '/'
  return name;
}

Dataset load_dataset(const std::string& kind_name, const std::string& dir_given, std::optional<bool> crop_boxes,
                     bool attributes_needed) {
  const DatasetKind kind = parse_dataset_kind(kind_name);
  if (crop_boxes.value_or(false) && !has_bounding_boxes(kind))
    SGML_FAIL("--crop-boxes: dataset ", kind_name, " has no bounding boxes (only cub, demo-cub and cars can be "
              "cropped to their boxes)");
  const bool crop = crops_to_boxes(kind, crop_boxes);
  const std::string dir = dataset_dir(kind_name, dir_given);
  ensure_demo_data(kind_name, dir);
  Dataset d;
  switch (kind) {
    case DatasetKind::Cub: case DatasetKind::DemoCub: d = read_cub(dir, CubOptions{crop, !attributes_needed}); break;
    case DatasetKind::Sop: d = read_sop(dir); break;
    case DatasetKind::Cars: d = read_cars(dir, CarsOptions{crop}); break;
    default: d = read_inshop(dir);
  }
  d.kind = kind_name;
  return d;
}

}  // namespace sgml
