// Stanford Online Products, as the official archive lays it out (shared/datasets.md), DIR = the extracted
// Stanford_Online_Products/ folder:
//   Ebay_train.txt, Ebay_test.txt   line 1 the header "image_id class_id super_class_id path", then one image a line,
//                                   e.g. "1 1 1 bicycle_final/111085122871_0.JPG" (path relative to DIR)
// The metric-learning split is the files' own: Ebay_train.txt trains (11,318 classes, 59,551 images), Ebay_test.txt
// is the leave-one-out test set (11,316 classes, 60,502 images). Labels are dense per split in class-id order; the
// item of an image is its class id. No attributes, no boxes.
// Errors name the file and line: a missing file, a missing or different header line, a line without exactly four
// tokens, an id that is not a positive integer, a super-class id outside 1-12, an image id listed twice in a file,
// a class with two super-classes, a class in both files, an image that is not on disk (the first such line, and
// how many there are).
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml {

// The super-class folders of the official archive, in super_class_id order (1 = bicycle_final, ...).
const std::vector<std::string>& sop_super_class_folders();

Dataset read_sop(const std::string& root);

}  // namespace sgml
