// What a dataset folder holds, for `sgml info`: images and classes per split, attributes, what the reader tolerated
// and the problems found (missing image files; with verify_images, images that do not decode or whose bounding box
// lies outside them; test classes that cannot be retrieved: a CUB test class of one image, an In-shop query item
// without gallery images).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sgml {

struct DatasetInfoOptions {
  bool verify_images = false;  // decode every image (slow on the real datasets) instead of checking it exists
  int workers = 0;             // threads for verify_images; 0: the machine's cores
  int cache_size = 0;          // > 0: also say whether a decoded-image cache of that size is present
};

// Keys: kind, root, images_train, classes_train, images_test (CUB layout) or images_query and images_gallery
// (In-shop layout), classes_test, attributes, attribute_names, tolerated_defects {what: count}, missing_images,
// bad_images and boxes_past_image (verify_images only: the first few images whose box reaches over a pixel past
// them, counted in tolerated_defects), problems [text], cache (index path, or null). Every string is valid UTF-8 (for
// display; a byte that is not is written \xHH, data/path_text.h), so the object can always be dumped.
nlohmann::ordered_json dataset_info(const Dataset& dataset, const DatasetInfoOptions& options = {});

// The dataset's image files (of the training images, the test images or both) that are missing or are not regular
// files: how many, and the messages of the first few ("missing image 'PATH'"). A stat per image: seconds for SOP's
// 120,000.
struct MissingImages {
  int count = 0;
  std::vector<std::string> examples;
};
// training / test: whether to look at the training images, and at the test images (test, query and gallery).
MissingImages missing_images(const Dataset& dataset, bool training, bool test);

// The same as a few lines of text.
std::string format_dataset_info(const nlohmann::ordered_json& info);

}  // namespace sgml
