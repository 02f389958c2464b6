// A dataset as the trainer and evaluator see it, whatever its on-disk layout: image lists per role with dense class
// labels and attribute vectors. Readers for the official layouts fill it (cub_reader.h, inshop_reader.h); the demo
// datasets are generated on disk in those layouts (demo_generator.h) and read by the same readers.
//
//   kind          roles                      evaluation
//   cub           train, test                leave-one-out over `test` (each test image queries the others)
//   deepfashion   train, query, gallery      each query ranks the gallery
//   demo          train, query, gallery      (In-shop layout, generated into demo_data/inshop on first use)
//   demo-cub      train, test                (CUB layout, generated into demo_data/cub on first use)
//   sop           train, test                leave-one-out over `test` (Stanford Online Products, no attributes)
//   cars          train, test                leave-one-out over `test` (Cars196, no attributes)
// CUB is cropped to its bounding boxes by default (the SGML paper's protocol), Cars196 is not (most metric-learning
// work does not crop); --crop-boxes true or false says either way (crops_to_boxes).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sgml {

struct BoundingBox {
  float x = 0, y = 0, width = 0, height = 0;  // pixels; width <= 0 means none
  bool valid() const { return width > 0 && height > 0; }
};

struct ImageRecord {
  std::string path;       // as found on disk (DIR joined with the name in the list file)
  std::string item;       // the class as the dataset names it (In-shop item id, CUB class id)
  int label = 0;          // dense class index within its split (0..C-1 over train, or over the test roles)
  BoundingBox box;        // crop before any other transform (CUB); none for In-shop (the paper does not crop)
  int attribute_row = 0;  // row of Dataset::attributes (In-shop: one row per item; CUB: one row per image)
};

struct Dataset {
  std::string kind;  // cub | deepfashion | demo | demo-cub | sop | cars
  std::string root;
  std::vector<ImageRecord> train;
  std::vector<ImageRecord> query, gallery;  // In-shop layout (query and gallery share items and labels)
  std::vector<ImageRecord> test;            // CUB layout (leave-one-out)
  std::vector<std::vector<float>> attributes;  // 0/1 vectors of num_attributes(), indexed by attribute_row
  std::vector<std::string> attribute_names;
  std::map<std::string, int> tolerated_defects;  // what the reader tolerated ("file: what" -> count)

  int num_attributes() const { return int(attribute_names.size()); }
  int num_train_classes() const;
  int num_test_classes() const;  // over test, or over query and gallery together
  bool query_gallery() const { return !query.empty() || !gallery.empty(); }
  const std::vector<float>& attributes_of(const ImageRecord& r) const { return attributes[size_t(r.attribute_row)]; }
};

// The dense labels of a list of images, in order (what the samplers take).
std::vector<int> labels_of(const std::vector<ImageRecord>& images);
// Number of distinct labels (the labels are dense: max + 1).
int num_classes(const std::vector<ImageRecord>& images);

// The dataset kinds every command accepts (the DATASET argument of train, eval, info and prepare).
enum class DatasetKind { Cub, DeepFashion, Demo, DemoCub, Sop, Cars };
// The one parser of a dataset name: "unknown dataset 'X': expected cub, deepfashion, sop, cars, demo or demo-cub"
// otherwise.
DatasetKind parse_dataset_kind(const std::string& name);
const char* dataset_kind_name(DatasetKind kind);
inline bool is_demo(DatasetKind kind) { return kind == DatasetKind::Demo || kind == DatasetKind::DemoCub; }

// Where a kind's data is when --data is not given: demo_data/inshop (demo) and demo_data/cub (demo-cub) under the
// project root; empty for cub, deepfashion, sop and cars (they need --data).
std::string default_data_dir(const std::string& kind);
// The folder a dataset of `kind` is read from: `dir_given`, else default_data_dir(kind); for cub, deepfashion, sop
// and cars without --data, an error that says what --data must name.
std::string dataset_dir(const std::string& kind, const std::string& dir_given);

// For the demo kinds: generates the demo dataset into `dir` unless a complete one of the current generator version
// is there (atomically: written beside it, then renamed); a non-empty folder that the generator did not write is
// left alone (and read as it is). Returns true when it generated. No-op for other kinds.
bool ensure_demo_data(const std::string& kind, const std::string& dir);

// An image's path below its dataset's folder ("images/001.Black_footed_Albatross/x.jpg"), however that folder was
// spelled ("data/cub", "./data/cub/", an absolute path): the name that identifies the image in a decoded-image
// cache and in a checkpoint's fingerprint of the training data. A path outside `root` is returned whole.
std::string path_below_root(const std::string& path, const std::string& root);

// Reads a dataset of `kind` from `dir` (empty: default_data_dir(kind); demo data is generated first when missing).
// Errors (sgml::Error) name the file and the line of what is wrong. `crop_boxes` (--crop-boxes): nullopt crops as
// the kind's protocol does (crops_to_boxes), true or false say either way; true is refused for kinds without boxes.
// Without `attributes_needed` (a loss without the BCE term, evaluation, a cache) a CUB copy that lacks its
// attribute files is read without attributes (said in tolerated_defects) instead of refused.
Dataset load_dataset(const std::string& kind, const std::string& dir = "",
                     std::optional<bool> crop_boxes = std::nullopt, bool attributes_needed = true);
// Whether a kind's images have bounding boxes (cub, demo-cub, cars): --crop-boxes means something there.
bool has_bounding_boxes(DatasetKind kind);
// Whether images of `kind` are cropped to their boxes when --crop-boxes is `requested` (nullopt: not given, the
// kind's protocol: cub and demo-cub crop, as the SGML paper; cars does not, as most metric-learning work).
bool crops_to_boxes(DatasetKind kind, std::optional<bool> requested);

}  // namespace sgml
