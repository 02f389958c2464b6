// The caching GPU allocator and the explicit copies. All work of a device is ordered on its one stream, so a
// block freed by one op can be handed to the next op at once: the stream orders the reuse after the last use.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "engine/check.h"
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/gpu_memory.h"

namespace sgml {

namespace {

struct CachingAllocator {
  std::mutex mutex;
  std::map<int, std::multimap<size_t, void*>> free_blocks;  // device -> (rounded size -> block)
  size_t in_use = 0;
  size_t peak = 0;
  size_t cached = 0;
};

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: frees after exit would fault
  return *a;
}

// Small blocks round to 512 B, large ones to 2 MiB, so that slightly different sizes share blocks.
size_t round_size(size_t bytes) {
  const size_t small = 512, large = size_t(2) << 20;
  SGML_CHECK(bytes <= SIZE_MAX - large, "a GPU allocation of ", bytes, " bytes");  // the rounding would wrap
  if (bytes < large) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

// Gives every cached block back to the driver, device by device; the caller's current device is restored.
void release_cached_locked(CachingAllocator& a) {
  for (auto& [device, blocks] : a.free_blocks) {
    if (blocks.empty()) continue;
    CudaDeviceGuard guard(device);
    // Blocks come back in stream order, possibly still used by queued work: let the device finish first.
    SGML_CUDA_CHECK(cudaDeviceSynchronize());
    while (!blocks.empty()) {  // each block leaves the list before cudaFree, so a failure leaves the books right
      const auto it = blocks.begin();
      void* ptr = it->second;
      a.cached -= it->first;
      blocks.erase(it);
      SGML_CUDA_CHECK(cudaFree(ptr));
    }
  }
}

}  // namespace

void* gpu_alloc(size_t bytes, int device) {
  if (bytes == 0) bytes = 1;
  const size_t size = round_size(bytes);
  CachingAllocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  auto& blocks = a.free_blocks[device];
  auto it = blocks.find(size);
  void* ptr = nullptr;
  if (it != blocks.end()) {
    ptr = it->second;
    blocks.erase(it);
    a.cached -= size;
  } else {
    check_cuda_device_index(device);
    CudaDeviceGuard guard(device);
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // a failed cudaMalloc sets the last error: clear it, give the cache back, retry
      release_cached_locked(a);
      err = cudaMalloc(&ptr, size);
    }
    // cuda_error_text clears the last error again, or the next kernel launch would report this "out of memory".
    if (err != cudaSuccess)
      SGML_FAIL("GPU allocation of ", size, " bytes failed on cuda:", device, ": ", cuda_error_text(err),
                " (in use: ", a.in_use, " bytes)");
  }
  a.in_use += size;
  if (a.in_use > a.peak) a.peak = a.in_use;
  return ptr;
}

void gpu_free(void* ptr, size_t bytes, int device) {
  if (!ptr) return;
  const size_t size = round_size(bytes == 0 ? 1 : bytes);
  CachingAllocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.free_blocks[device].emplace(size, ptr);
  a.in_use -= size;
  a.cached += size;
}

void gpu_empty_cache() {
  CachingAllocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  release_cached_locked(a);
}

// Under the lock: another thread may be allocating, and a torn or stale read would be a wrong report.
size_t gpu_bytes_in_use() {
  CachingAllocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  return a.in_use;
}

size_t gpu_peak_bytes_in_use() {
  CachingAllocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  return a.peak;
}

void gpu_copy_host_to_device(void* dst, const void* src, size_t bytes, int device) {
  cudaStream_t s = CudaContext::get(device).stream();
  SGML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
  // The host buffer may be pageable and short-lived: wait until it has been read.
  SGML_CUDA_CHECK(cudaStreamSynchronize(s));
}

void gpu_copy_device_to_host(void* dst, const void* src, size_t bytes, int device) {
  cudaStream_t s = CudaContext::get(device).stream();
  SGML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
  SGML_CUDA_CHECK(cudaStreamSynchronize(s));
}

void gpu_copy_device_to_device(void* dst, const void* src, size_t bytes, int device) {
  SGML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, CudaContext::get(device).stream()));
}

void gpu_memset_zero(void* dst, size_t bytes, int device) {
  SGML_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, CudaContext::get(device).stream()));
}

void gpu_synchronize(int device) { SGML_CUDA_CHECK(cudaStreamSynchronize(CudaContext::get(device).stream())); }

int gpu_device_count(std::string* why) {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    if (why) {
      *why = "the CUDA runtime says: " + cuda_error_text(err);
      if (err == cudaErrorInsufficientDriver) {
        int driver = 0;
        if (cudaDriverGetVersion(&driver) != cudaSuccess) (void)cudaGetLastError();
        const std::string needs =
            str_cat("this build needs CUDA ", CUDART_VERSION / 1000, ".", CUDART_VERSION % 1000 / 10);
        *why += driver == 0
                    ? str_cat(" (no NVIDIA driver is installed; ", needs, ")")
                    : str_cat(" (the driver supports CUDA ", driver / 1000, ".", driver % 1000 / 10, "; ", needs, ")");
      }
    }
    (void)cudaGetLastError();
    return 0;
  }
  if (count == 0 && why) *why = "the CUDA driver lists no GPU";
  return count;
}

GpuProperties gpu_device_properties(int device) {
  check_cuda_device_index(device);
  cudaDeviceProp prop{};
  SGML_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  GpuProperties p;
  p.name = prop.name;
  p.major = prop.major;
  p.minor = prop.minor;
  return p;
}

}  // namespace sgml
