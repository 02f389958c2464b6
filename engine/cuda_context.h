// Per-device CUDA state: one stream, one cuBLAS handle, one cuDNN handle and one shared cuDNN workspace.
// Included only by CUDA sources. Every op on a device runs on that device's stream.
// A context that cannot be created (driver or library failure) is not retried: every later get() of that device
// rethrows the first error, so one broken device gives one clear error instead of a retry per op.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>

namespace sgml {

class CudaContext {
 public:
  // The context of a device, created on first use.
  static CudaContext& get(int device);

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

}  // namespace sgml
