// The bounding boxes in the decoded-image cache index (image_cache.h, field "boxes"): one entry per cached image,
// null when it is not cropped, else [x, y, width, height]. The index records them so that a cache is used only by a
// dataset cropped the same way (CUB or Cars196 with or without --crop-boxes, CUB after bounding_boxes.txt changed).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sgml {

// Floats round-trip exactly through JSON's shortest double text, so a box read back compares equal.
nlohmann::json box_to_json(const BoundingBox& box);
// The `count` boxes of the array `boxes`; on a wrong count or entry, `error` says what ("field 'boxes' entry 3 is
// ...") and the result is empty.
std::vector<BoundingBox> boxes_from_json(const nlohmann::json& boxes, size_t count, std::string* error);
// Both not cropped (invalid), or the same four numbers.
bool same_box(const BoundingBox& a, const BoundingBox& b);

}  // namespace sgml
