// DeepFashion In-shop Clothes Retrieval, as the official archive lays it out (shared/datasets.md):
//   Eval/list_eval_partition.txt   count, header, then "<image_name> <item_id> <train|query|gallery>"
//   Anno/list_attr_cloth.txt       count, header, then one attribute name per line (may contain spaces; a trailing
//                                  integer type column is dropped when the header names two columns or every line
//                                  has one)
//   Anno/list_attr_items.txt       count, header, then "<item_id> <K values in {1, -1, 0}>"  (1 -> 1, -1 and 0 -> 0)
// Images under Img/ (Img/img/...) or at the root (img/...); attribute files in Anno/ or Anno/attributes/. Lines are
// split on runs of whitespace. The bounding boxes are not read: the paper resizes the whole image.
// Labels: train items 0..C-1 in order of first appearance; query and gallery share one numbering of the test items.
// Errors name the file and line: a missing file, a count on line 1 that disagrees with the lines that follow, a line
// with the wrong number of tokens, a value not in {1, -1, 0}, an unknown status, an item without attributes, an
// item listed twice in the attribute file, an item that is both train and test.
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml {

Dataset read_inshop(const std::string& root);

}  // namespace sgml
