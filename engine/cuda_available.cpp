#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "engine/device.h"

namespace sgml {

const std::string& cuda_unavailable_reason() {
  static const std::string reason = [] {
    try {
      return cuda_device_problem(0);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  }();
  return reason;
}

bool cuda_available() {
  static std::once_flag once;
  const bool available = cuda_unavailable_reason().empty();
  // The reason, not only the verdict: a driver too old for this build must not look like a machine without GPU.
  std::call_once(once, [available] {
    if (!available)
      std::fprintf(stderr, "sgml: no usable GPU (%s); %s\n", cuda_unavailable_reason().c_str(),
                   gpu_required() ? "SGML_REQUIRE_GPU is set: --device auto and GPU tests fail"
                                  : "--device auto runs on the CPU");
  });
  return available;
}

bool gpu_required() {
  const char* v = std::getenv("SGML_REQUIRE_GPU");
  return v && *v && std::string(v) != "0";
}

}  // namespace sgml
