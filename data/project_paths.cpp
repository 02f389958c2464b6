#include "data/project_paths.h"

#include <cstdlib>

namespace sgml {

std::string project_root() {
  const char* root = std::getenv("SGML_ROOT");
  return root && *root ? root : SGML_PROJECT_ROOT;
}

std::string project_path(const std::string& relative) { return project_root() + "/" + relative; }

}  // namespace sgml
