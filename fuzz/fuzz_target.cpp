// The libFuzzer entry point of every fuzz target: fuzz/CMakeLists.txt compiles this file once per target, with
// SGML_FUZZ_READ naming that target's function in fuzz/fuzz_inputs.h.
#include "fuzz/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SGML_FUZZ_READ(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
