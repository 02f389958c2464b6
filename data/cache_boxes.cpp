#include "data/cache_boxes.h"

#include <algorithm>

#include "engine/check.h"

namespace sgml {

nlohmann::json box_to_json(const BoundingBox& b) {
  return b.valid() ? nlohmann::json::array({b.x, b.y, b.width, b.height}) : nlohmann::json();
}

std::vector<BoundingBox> boxes_from_json(const nlohmann::json& boxes, size_t count, std::string* error) {
  if (boxes.size() != count) {
    *error = str_cat("lists ", boxes.size(), " boxes for ", count, " paths");
    return {};
  }
  std::vector<BoundingBox> out(count);
  for (size_t i = 0; i < count; ++i) {
    const nlohmann::json& b = boxes[i];
    if (b.is_null()) continue;
    const bool numbers = b.is_array() && b.size() == 4 &&
                         std::all_of(b.begin(), b.end(), [](const nlohmann::json& v) { return v.is_number(); });
    if (!numbers) {
      *error = str_cat("field 'boxes' entry ", i, " is neither null nor [x, y, width, height]");
      return {};
    }
    out[i] = {b[0].get<float>(), b[1].get<float>(), b[2].get<float>(), b[3].get<float>()};
  }
  return out;
}

bool same_box(const BoundingBox& a, const BoundingBox& b) {
  if (!a.valid() || !b.valid()) return a.valid() == b.valid();
  return a.x == b.x && a.y == b.y && a.width == b.width && a.height == b.height;
}

}  // namespace sgml
