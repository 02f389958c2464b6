// Per-device CUDA state: one stream, one cuBLAS handle, one cuDNN handle and one shared cuDNN workspace.
// Included only by CUDA sources. Every op on a device runs on that device's stream.
// A context that cannot be created (driver or library failure) is not retried: every later get() of that device
// rethrows the first error, so one broken device gives one clear error instead of a retry per op.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

namespace sgml {

class CudaContext {
 public:
  // The context of a device, created on first use.
  static CudaContext& get(int device);
  // The context of the current device: what a CUDA twin of an op uses (SGML_DISPATCH made the device current).
  static CudaContext& current();

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  int device() const { return device_; }

  // The shared cuDNN workspace, grown (never shrunk) to at least `bytes`. Throws if it cannot be allocated; the
  // context then holds no workspace, and a later, smaller request allocates afresh.
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }

  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

 private:
  explicit CudaContext(int device);
  ~CudaContext();
  void destroy_handles() noexcept;  // whatever was created so far

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

// Makes `device` current for the guard's lifetime and restores the previous current device afterwards, so that
// code working on several devices does not leave the caller on another one.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// Throws a clear error unless 0 <= device < the number of GPUs (before the runtime says "invalid device ordinal").
void check_cuda_device_index(int device);

// Threads per block and grid size for a 1-D elementwise launch over n elements.
constexpr int kThreadsPerBlock = 256;
inline int blocks_for(long long n) {
  long long blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(blocks < 65535LL * 16 ? (blocks > 0 ? blocks : 1) : 65535LL * 16);
}

#ifdef __CUDACC__
// The indices first, first + step, ... below end: what one thread (or warp) visits in a strided loop. 64-bit, so
// the end may exceed 2^31. Made by the three helpers below, used in a range-for:
//   for (int64_t i : grid_stride(n)) y[i] = f(x[i]);
class StrideRange {
 public:
  struct Iterator {
    int64_t index, step;
    __device__ int64_t operator*() const { return index; }
    __device__ Iterator& operator++() {
      index += step;
      return *this;
    }
    // A range-for stops at `!=`: "before the end" rather than "not equal", as the last step may jump past it.
    __device__ bool operator!=(const Iterator& end) const { return index < end.index; }
  };
  __device__ StrideRange(int64_t first, int64_t step, int64_t end) : first_(first), step_(step), end_(end) {}
  __device__ Iterator begin() const { return {first_, step_}; }
  __device__ Iterator end() const { return {end_, 0}; }

 private:
  int64_t first_, step_, end_;
};

// [0, n) over every thread of a 1-D grid (any grid size, e.g. blocks_for(n)): one element per thread per round.
__device__ inline StrideRange grid_stride(int64_t n) {
  return {int64_t(blockIdx.x) * blockDim.x + threadIdx.x, int64_t(gridDim.x) * blockDim.x, n};
}

// [0, n) over the threads of the blocks that share blockIdx.x, strided along the grid's y dimension: for kernels
// where blockIdx.x picks a row or plane and gridDim.y blocks split its n elements.
__device__ inline StrideRange grid_stride_y(int64_t n) {
  return {int64_t(blockIdx.y) * blockDim.x + threadIdx.x, int64_t(gridDim.y) * blockDim.x, n};
}

// [0, n) over every warp of a 1-D grid: one item (a row, a plane) per warp per round. The same for all lanes of a
// warp, so the whole warp takes part in any shuffle inside the loop. blockDim.x must be a multiple of 32.
__device__ inline StrideRange warp_stride(int64_t n) {
  const int64_t warps_per_block = blockDim.x >> 5;
  return {int64_t(blockIdx.x) * warps_per_block + (threadIdx.x >> 5), int64_t(gridDim.x) * warps_per_block, n};
}
#endif

}  // namespace sgml
