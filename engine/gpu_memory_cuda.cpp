// The caching GPU allocator and the explicit copies. All work of a device is ordered on its one stream, so a
// block freed by one op can be handed to the next op at once: the stream orders the reuse after the last use.
#include <cstdio>
#include <map>
#include <mutex>

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
  if (bytes < large) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

void release_cached_locked(CachingAllocator& a) {
  for (auto& [device, blocks] : a.free_blocks) {
    cudaSetDevice(device);
    for (auto& [size, ptr] : blocks) cudaFree(ptr);
    blocks.clear();
  }
  a.cached = 0;
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
    SGML_CUDA_CHECK(cudaSetDevice(device));
    cudaError_t err = cudaMalloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear the sticky-free error and retry after giving the cache back
      SGML_CUDA_CHECK(cudaDeviceSynchronize());
      release_cached_locked(a);
      err = cudaMalloc(&ptr, size);
    }
    if (err != cudaSuccess)
      SGML_FAIL("GPU allocation of ", size, " bytes failed on cuda:", device, ": ", cudaGetErrorString(err),
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
  cudaDeviceSynchronize();
  release_cached_locked(a);
}

size_t gpu_bytes_in_use() { return allocator().in_use; }
size_t gpu_peak_bytes_in_use() { return allocator().peak; }

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

int gpu_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

}  // namespace sgml
