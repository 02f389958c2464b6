#include "data/unique_image_paths.h"

#include <filesystem>

#include "engine/check.h"

namespace sgml {

void UniqueImagePaths::add(const std::string& path, const std::string& where) {
  const std::string key = std::filesystem::path(path).lexically_normal().string();
  const auto [it, added] = first_listing_.emplace(key, where);
  if (!added)
    SGML_FAIL(where, ": image '", path, "' is listed twice (also at ", it->second,
              "); each image may be listed once");
}

}  // namespace sgml
