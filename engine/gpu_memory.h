// The GPU memory functions the device-independent code needs. Implemented with the CUDA runtime in
// gpu_memory_cuda.cpp, and by stubs that throw in gpu_memory_nocuda.cpp when the engine is built without CUDA.
#pragma once
#include <cstddef>
#include <string>

namespace sgml {

// Caching allocator: blocks freed go to a free list by size and are reused, so a training step in steady state
// does not call cudaMalloc. Memory goes back to the driver only in gpu_empty_cache().
void* gpu_alloc(size_t bytes, int device);
void gpu_free(void* ptr, size_t bytes, int device);
void gpu_empty_cache();
size_t gpu_bytes_in_use();
size_t gpu_peak_bytes_in_use();

// Copies on the device's stream. Copies to the host synchronise the stream before returning.
void gpu_copy_host_to_device(void* dst, const void* src, size_t bytes, int device);
void gpu_copy_device_to_host(void* dst, const void* src, size_t bytes, int device);
void gpu_copy_device_to_device(void* dst, const void* src, size_t bytes, int device);
void gpu_memset_zero(void* dst, size_t bytes, int device);
void gpu_synchronize(int device);

// Number of GPUs the CUDA runtime sees (0 without driver or device, or in a build without CUDA); never throws.
// When it is 0 and `why` is given, *why says why: the runtime's error (e.g. a driver too old for this build) or
// that the driver lists no device.
int gpu_device_count(std::string* why = nullptr);

// The name and compute capability of a device; the index must exist (see check in engine/device.h).
struct GpuProperties {
  std::string name;
  int major = 0, minor = 0;
};
GpuProperties gpu_device_properties(int device);

}  // namespace sgml
