// Per-device CUDA state: one stream, one cuBLAS handle, one cuDNN handle and one shared cuDNN workspace.
// Included only by CUDA sources. Every op on a device runs on that device's stream.
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

  // The shared cuDNN workspace, grown (never shrunk) to at least `bytes`.
  void* workspace(size_t bytes);
  size_t workspace_size() const { return workspace_bytes_; }

  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

 private:
  explicit CudaContext(int device);
  ~CudaContext();

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

// Threads per block and grid size for a 1-D elementwise launch over n elements.
constexpr int kThreadsPerBlock = 256;
inline int blocks_for(long long n) {
  long long blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(blocks < 65535LL * 16 ? (blocks > 0 ? blocks : 1) : 65535LL * 16);
}

}  // namespace sgml
