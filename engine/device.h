// Devices and element types.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sgml {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

// Parses "cpu", "cuda", "cuda:N" and "auto". "auto" gives cuda:0 when it is usable (cuda_available), else the CPU,
// or an error naming the reason when SGML_REQUIRE_GPU=1. "cuda" and "cuda:N" must name a GPU that exists and that
// this build has code for; anything else is refused with the reason.
Device parse_device(const std::string& text);

// The N of "cuda:N" ("cuda" is 0). Throws for "cuda:", "cuda:abc", "cuda:-1", "cuda:1x", an N beyond int, and
// anything not starting with "cuda". Needs no GPU.
int parse_cuda_index(const std::string& text);

// The GPU architectures this build has code for, as CMake's list with commas (e.g. "80,90" or "80-real,90");
// "" in a build without CUDA.
std::string compiled_cuda_architectures();
// Whether code compiled for `archs` (CMake's CUDA_ARCHITECTURES entries, comma-separated) runs on a device of
// compute capability major.minor: real code (SASS) for X.Y runs on X.Z with Z >= Y ("90a": on 9.0 only), virtual
// code (PTX) for X.Y on every X'.Y' >= X.Y through the driver's JIT. An entry without a suffix is both. Entries
// that name no architecture ("native", "all", "all-major") and an empty list are trusted.
bool cuda_architectures_support(const std::string& archs, int major, int minor);

// Why cuda:N cannot be used here ("" when it can): no driver or device (with the runtime's reason), no such
// index, or a compute capability this build has no code for.
std::string cuda_device_problem(int index);

// F32 is what every op computes in. I64 exists for buffers such as BN's num_batches_tracked, I32 for indices
// (max-pool argmax, pair lists, kNN results). Half-precision files are widened to F32 when read.
enum class DType : uint8_t { F32, I64, I32 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

// True when the engine was built with CUDA and cuda:0 is usable (driver, device, code for its compute
// capability). The first call that finds none prints one line with the reason (the engine then runs on the CPU).
bool cuda_available();
// Why no GPU is usable: cuda_device_problem(0), computed once; "" when one is.
const std::string& cuda_unavailable_reason();
// SGML_REQUIRE_GPU is set (and not "0"): "--device auto" and the GPU tests fail instead of falling back to the
// CPU or skipping. For GPU machines and CI, where a GPU that silently went missing must not look like a pass.
bool gpu_required();

// Waits until the device has finished the work queued on it (its stream); nothing to wait for on the CPU.
void synchronize(Device device);

}  // namespace sgml
