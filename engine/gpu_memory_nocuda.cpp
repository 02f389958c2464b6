// Built only without CUDA: every GPU request is an error that says why.
#include "engine/check.h"
#include "engine/gpu_memory.h"

namespace sgml {

namespace {
const char* const kNoCuda =
    "this build of the engine has no CUDA backend (it was built with SGML_CUDA=OFF, or where no nvcc was found: "
    "build again with SGML_CUDA=ON)";
[[noreturn]] void no_cuda() { SGML_FAIL(kNoCuda); }
}  // namespace

void* gpu_alloc(size_t, int) { no_cuda(); }
void gpu_free(void*, size_t, int) {}
void gpu_empty_cache() {}
size_t gpu_bytes_in_use() { return 0; }
size_t gpu_peak_bytes_in_use() { return 0; }
void gpu_copy_host_to_device(void*, const void*, size_t, int) { no_cuda(); }
void gpu_copy_device_to_host(void*, const void*, size_t, int) { no_cuda(); }
void gpu_copy_device_to_device(void*, const void*, size_t, int) { no_cuda(); }
void gpu_memset_zero(void*, size_t, int) { no_cuda(); }
void gpu_synchronize(int) {}
int gpu_device_count(std::string* why) {
  if (why) *why = kNoCuda;
  return 0;
}
GpuProperties gpu_device_properties(int) { no_cuda(); }

}  // namespace sgml
