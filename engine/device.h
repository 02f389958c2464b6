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

// Parses "cpu", "cuda", "cuda:1"; "auto" gives cuda when a GPU is usable, else cpu.
Device parse_device(const std::string& text);

// F32 is what every op computes in. I64 exists for buffers such as BN's num_batches_tracked.
// BF16/F16 are reserved for mixed precision later.
enum class DType : uint8_t { F32, I64, I32, BF16, F16 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

// True when the engine was built with CUDA and a GPU with a working driver is present. The first call that
// finds none prints one line saying so (the engine then runs on the CPU).
bool cuda_available();

}  // namespace sgml
