// A dataset as the trainer and evaluator see it, whatever its on-disk layout: image lists per role with class
// labels and attribute vectors. Readers for the official layouts fill it (inshop_reader.h; the demo dataset is
// written in the In-shop layout and read by the same reader).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace sgml {

struct BoundingBox {
  float x = 0, y = 0, width = 0, height = 0;  // pixels; width <= 0 means none
  bool valid() const { return width > 0 && height > 0; }
};

struct ImageRecord {
  std::string path;   // absolute or relative to the working directory
  std::string item;   // the class as the dataset names it (In-shop item id, CUB class id)
  int label = 0;      // dense class index within its split (train, or test)
  BoundingBox box;    // crop before any other transform (CUB)
  int attribute_row = 0;  // row of Dataset::attributes
};

struct Dataset {
  std::string kind;  // deepfashion | cub | demo
  std::string root;
  std::vector<ImageRecord> train;
  std::vector<ImageRecord> query, gallery;  // In-shop
  std::vector<ImageRecord> test;            // CUB (leave-one-out)
  std::vector<std::vector<float>> attributes;  // 0/1 vectors, indexed by ImageRecord::attribute_row
  std::vector<std::string> attribute_names;
  std::map<std::string, int> tolerated_defects;  // what was tolerated, with counts
  int num_attributes() const { return attribute_names.empty() ? 0 : int(attribute_names.size()); }
  int num_train_classes() const;
  bool query_gallery() const { return !query.empty(); }
};

}  // namespace sgml
