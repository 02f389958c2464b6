#include <cstdio>
#include <mutex>

#include "engine/device.h"
#include "engine/gpu_memory.h"

namespace sgml {

bool cuda_available() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] {
    available = gpu_device_count() > 0;
    if (!available) std::fprintf(stderr, "sgml: no usable GPU (no CUDA build, driver or device): running on the CPU\n");
  });
  return available;
}

}  // namespace sgml
