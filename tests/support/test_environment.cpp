// The suite reads errors as a developer debugging would: with the C++ source location and the failed condition
// (engine/check.h adds them when SGML_ERROR_LOCATIONS is set). Programs the tests start inherit it. Set before main.
#include <cstdlib>

namespace {
const bool g_error_locations = [] { return ::setenv("SGML_ERROR_LOCATIONS", "1", /*overwrite=*/0) == 0; }();
}  // namespace
