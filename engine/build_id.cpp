#include "engine/build_id.h"

#include "sgml_build_id.h"  // generated at build time into the build folder (scripts/build_id.cmake)

namespace sgml {

const char* build_id() { return SGML_BUILD_ID; }

}  // namespace sgml
