// CUB-200-2011, as the official archive lays it out (shared/datasets.md), DIR = the extracted CUB_200_2011/ folder:
//   images.txt                             "<image_id> <image_name>" (relative to images/)
//   image_class_labels.txt                 "<image_id> <class_id>"
//   classes.txt                            "<class_id> <class_name>"
//   bounding_boxes.txt                     "<image_id> <x> <y> <width> <height>" (float pixels)
//   attributes/image_attribute_labels.txt  "<image_id> <attribute_id> <is_present> <certainty_id> <time>"
//   attributes.txt                         "<attribute_id> <attribute_name>", in DIR/attributes/, DIR/ or DIR/..
// train_test_split.txt is not read: metric learning splits by class. The first half of the sorted class ids
// (1-100) is the training split, the rest (101-200) the test split (leave-one-out retrieval); labels are dense per
// split in class-id order. Each image keeps its bounding box (the transform crops to it) unless CubOptions::crop is
// false (whole images, as Divide & Conquer's authors read CUB; the boxes are still read and checked), and its own
// attribute row (312 is_present values). Tolerated and counted: lines of image_attribute_labels.txt with tokens after
// the fifth (the official file's known defect around image 2275; the first four tokens are read). Errors name the file
// and line: a missing file, a malformed line, a duplicate id, an image without a class, a class not in classes.txt, an
// image without a bounding box or with missing attributes, an unknown id.
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml {

struct CubOptions {
  bool crop = true;  // crop each image to its bounding box before any other transform (the SGML paper's protocol)
  // A copy without attributes.txt or attributes/image_attribute_labels.txt (the official archive keeps the first
  // outside CUB_200_2011/) is read without attributes, noted in tolerated_defects, instead of refused.
  bool attributes_optional = false;
};

Dataset read_cub(const std::string& root, const CubOptions& options = {});

// Where attributes.txt was looked for, in order (DIR/attributes/, DIR/, DIR/..).
std::vector<std::string> cub_attribute_name_candidates();

}  // namespace sgml
