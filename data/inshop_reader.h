// DeepFashion In-shop Clothes Retrieval, as the official archive lays it out (../shared/datasets.md):
//   Eval/list_eval_partition.txt   count, header, then "<image_name> <item_id> <train|query|gallery>"
//   Anno/list_attr_cloth.txt       count, header, then one attribute name per line (may contain spaces)
//   Anno/list_attr_items.txt       count, header, then "<item_id> <K values in {1, -1, 0}>"  (1 -> 1, else 0)
//   images under Img/ (Img/img/...) or at the root (img/...); attribute files in Anno/ or Anno/attributes/.
// Lines are split on whitespace runs. Errors name the file and line.
#pragma once
#include <string>

#include "data/dataset.h"

namespace sgml {

Dataset read_inshop(const std::string& root);

}  // namespace sgml
