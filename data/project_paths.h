// Where the project's own files are (configs/, weights/, demo_data/, runs/): $SGML_ROOT when set, else the
// source tree the program was built from, so that the program finds them whatever the working directory.
#pragma once
#include <string>

namespace sgml {

std::string project_root();
std::string project_path(const std::string& relative);  // project_root() + "/" + relative

}  // namespace sgml
