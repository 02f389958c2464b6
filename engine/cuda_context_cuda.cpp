#include "engine/cuda_context.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

#include "engine/cuda_check.h"
#include "engine/gpu_memory.h"

namespace sgml {

const char* cublas_status_string(cublasStatus_t status) { return cublasGetStatusString(status); }

bool sync_check_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SGML_SYNC_CHECK");
    return v && *v && std::string(v) != "0";
  }();
  return enabled;
}

CudaContext& CudaContext::get(int device) {
  static std::mutex mutex;
  static std::map<int, CudaContext*> contexts;  // never destroyed: handles outlive static destructors safely
  std::lock_guard<std::mutex> lock(mutex);
  auto it = contexts.find(device);
  if (it == contexts.end()) it = contexts.emplace(device, new CudaContext(device)).first;
  SGML_CUDA_CHECK(cudaSetDevice(device));
  return *it->second;
}

CudaContext::CudaContext(int device) : device_(device) {
  SGML_CUDA_CHECK(cudaSetDevice(device));
  SGML_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  SGML_CUBLAS_CHECK(cublasCreate(&cublas_));
  SGML_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // fp32 means fp32: no TF32 unless a later precision mode asks for it.
  SGML_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  SGML_CUDNN_CHECK(cudnnCreate(&cudnn_));
  SGML_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
}

CudaContext::~CudaContext() {
  if (workspace_) gpu_free(workspace_, workspace_bytes_, device_);
  cudnnDestroy(cudnn_);
  cublasDestroy(cublas_);
  cudaStreamDestroy(stream_);
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes > workspace_bytes_) {
    if (workspace_) {
      SGML_CUDA_CHECK(cudaStreamSynchronize(stream_));
      gpu_free(workspace_, workspace_bytes_, device_);
    }
    workspace_ = gpu_alloc(bytes, device_);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

}  // namespace sgml
