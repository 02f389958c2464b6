#include "engine/cuda_context.h"

#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <mutex>

#include "engine/cuda_check.h"
#include "engine/dispatch.h"
#include "engine/gpu_memory.h"

namespace sgml {

// ---------------------------------------------------------------- error reporting (cuda_check.h)

const char* cublas_status_string(cublasStatus_t status) { return cublasGetStatusString(status); }

bool sync_check_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SGML_SYNC_CHECK");
    return v && *v && std::string(v) != "0";
  }();
  return enabled;
}

bool cuda_error_is_sticky(cudaError_t err) {
  switch (static_cast<int>(err)) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    // By number: these exist only in newer toolkits (cudaErrorContained, cudaErrorTensorMemoryLeak,
    // cudaErrorMpsClientTerminated, cudaErrorExternalDevice); all are documented as needing a relaunch.
    case 226:
    case 721:
    case 810:
    case 911:
      return true;
    default:
      return false;
  }
}

std::string cuda_error_text(cudaError_t err) {
  // The runtime records every failed call as the thread's last error; the next launch check would report it again.
  (void)cudaGetLastError();
  std::string text = str_cat(cudaGetErrorString(err), " (", cudaGetErrorName(err), ")");
  if (cuda_error_is_sticky(err))
    text += "; this error is sticky and cannot be cleared: the GPU context is unusable and every later CUDA call "
            "fails the same way, so the process must be restarted (SGML_SYNC_CHECK=1 finds the op that caused it)";
  return text;
}

namespace {
// A library call can fail because of a CUDA error underneath (a failed launch, no memory): say so, and clear it.
std::string pending_cuda_error() {
  const cudaError_t pending = cudaGetLastError();
  return pending == cudaSuccess ? std::string() : "; CUDA reports: " + cuda_error_text(pending);
}
}  // namespace

void throw_cuda_error(const char* stmt, cudaError_t err, const char* file, int line) {
  throw_error(str_cat("CUDA call failed: ", stmt, ": ", cuda_error_text(err)), file, line);
}

void throw_cublas_error(const char* stmt, cublasStatus_t status, const char* file, int line) {
  throw_error(str_cat("cuBLAS call failed: ", stmt, ": ", cublas_status_string(status), pending_cuda_error()), file,
              line);
}

void throw_cudnn_error(const char* stmt, cudnnStatus_t status, const char* file, int line) {
  throw_error(str_cat("cuDNN call failed: ", stmt, ": ", cudnnGetErrorString(status), pending_cuda_error()), file,
              line);
}

// ---------------------------------------------------------------- devices

void check_cuda_device_index(int device) {
  std::string why;
  const int count = gpu_device_count(&why);
  if (count == 0) SGML_FAIL("cuda:", device, " asked for, but no usable GPU was found: ", why);
  if (device < 0 || device >= count)
    SGML_FAIL("cuda:", device, " does not exist: ", count, count == 1 ? " GPU is" : " GPUs are",
              " visible (cuda:0", count > 1 ? str_cat(" to cuda:", count - 1) : std::string(), ")");
}

CudaDeviceGuard::CudaDeviceGuard(int device) {
  SGML_CUDA_CHECK(cudaGetDevice(&previous_));
  SGML_CUDA_CHECK(cudaSetDevice(device));
}

CudaDeviceGuard::~CudaDeviceGuard() {
  // A destructor cannot throw: a failure to switch back is cleared so that it does not surface at a later launch.
  if (cudaSetDevice(previous_) != cudaSuccess) (void)cudaGetLastError();
}

// ---------------------------------------------------------------- contexts

CudaContext& CudaContext::get(int device) {
  static std::mutex mutex;
  // Never destroyed: handles outlive static destructors safely.
  static auto* contexts = new std::map<int, CudaContext*>();
  static auto* failures = new std::map<int, std::exception_ptr>();  // the first error of a device that failed
  std::lock_guard<std::mutex> lock(mutex);
  auto it = contexts->find(device);
  if (it == contexts->end()) {
    const auto failed = failures->find(device);
    if (failed != failures->end()) std::rethrow_exception(failed->second);
    try {
      check_cuda_device_index(device);
      it = contexts->emplace(device, new CudaContext(device)).first;
    } catch (...) {
      failures->emplace(device, std::current_exception());
      throw;
    }
  }
  SGML_CUDA_CHECK(cudaSetDevice(device));
  return *it->second;
}

CudaContext& CudaContext::current() {
  int device = 0;
  SGML_CUDA_CHECK(cudaGetDevice(&device));
  return get(device);
}

void make_cuda_device_current(int device) { (void)CudaContext::get(device); }

CudaContext::CudaContext(int device) : device_(device) {
  // A constructor that throws runs no destructor: give back what was created before the failure.
  try {
    SGML_CUDA_CHECK(cudaSetDevice(device));
    SGML_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SGML_CUBLAS_CHECK(cublasCreate(&cublas_));
    SGML_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // fp32 means fp32: no TF32 unless a later precision mode asks for it.
    SGML_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
    SGML_CUDNN_CHECK(cudnnCreate(&cudnn_));
    SGML_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  } catch (...) {
    destroy_handles();
    throw;
  }
}

CudaContext::~CudaContext() {
  if (workspace_) gpu_free(workspace_, workspace_bytes_, device_);
  destroy_handles();
}

void CudaContext::destroy_handles() noexcept {
  // Only on the way out (a failed constructor, or the destructor), where nothing can be reported: failures are
  // ignored, and the CUDA last error they leave is cleared.
  if (cudnn_) (void)cudnnDestroy(cudnn_);
  if (cublas_) (void)cublasDestroy(cublas_);
  if (stream_) (void)cudaStreamDestroy(stream_);
  cudnn_ = nullptr;
  cublas_ = nullptr;
  stream_ = nullptr;
  (void)cudaGetLastError();
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes > workspace_bytes_) {
    if (workspace_) {
      SGML_CUDA_CHECK(cudaStreamSynchronize(stream_));
      gpu_free(workspace_, workspace_bytes_, device_);
      // Forget the old block before allocating: if the allocation throws, no freed pointer may be handed out.
      workspace_ = nullptr;
      workspace_bytes_ = 0;
    }
    workspace_ = gpu_alloc(bytes, device_);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

}  // namespace sgml
