#include "training/output_files.h"

#include <filesystem>

#include "data/output_paths.h"

namespace sgml {

void create_parent_folder(const std::string& file, const std::string& what) {
  const std::string parent = std::filesystem::path(file).parent_path().string();
  if (!parent.empty()) create_output_folder(parent, "folder of the " + what);
}

}  // namespace sgml
