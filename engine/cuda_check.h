// Check macros for CUDA, cuBLAS and cuDNN calls. Included only by CUDA sources (*_cuda.cu, *_cuda.cpp).
// Each failure throws sgml::Error with the statement, the library's error string, file:line and the current op.
// Before throwing, the CUDA runtime's "last error" is cleared (cudaGetLastError): otherwise the next kernel launch
// check would report this old failure as its own (e.g. "out of memory" at an add). Sticky errors (an illegal
// address, a failed launch, ...) cannot be cleared: the context is unusable, and the message says so.
// With SGML_SYNC_CHECK=1 in the environment, SGML_CUDA_CHECK_LAUNCH also synchronises, so an asynchronous fault
// is reported at the op that caused it.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "engine/check.h"

namespace sgml {
const char* cublas_status_string(cublasStatus_t status);
bool sync_check_enabled();

// True for the errors after which the CUDA context is corrupt: every later call returns the same error, and only
// a new process can use the GPU again (the runtime documents these as needing a relaunch).
bool cuda_error_is_sticky(cudaError_t err);
// Clears the runtime's last error and returns the text to report for `err`: its name and description, plus a
// note when it is sticky.
std::string cuda_error_text(cudaError_t err);

// The out-of-line failure paths of the macros below; each clears the CUDA last error first.
[[noreturn]] void throw_cuda_error(const char* stmt, cudaError_t err, const char* file, int line);
[[noreturn]] void throw_cublas_error(const char* stmt, cublasStatus_t status, const char* file, int line);
[[noreturn]] void throw_cudnn_error(const char* stmt, cudnnStatus_t status, const char* file, int line);
}  // namespace sgml

#define SGML_CUDA_CHECK(stmt)                                                              \
  do {                                                                                     \
    cudaError_t sgml_err_ = (stmt);                                                        \
    if (sgml_err_ != cudaSuccess) ::sgml::throw_cuda_error(#stmt, sgml_err_, __FILE__, __LINE__); \
  } while (0)

#define SGML_CUBLAS_CHECK(stmt)                                                                           \
  do {                                                                                                    \
    cublasStatus_t sgml_st_ = (stmt);                                                                     \
    if (sgml_st_ != CUBLAS_STATUS_SUCCESS) ::sgml::throw_cublas_error(#stmt, sgml_st_, __FILE__, __LINE__); \
  } while (0)

#define SGML_CUDNN_CHECK(stmt)                                                                          \
  do {                                                                                                  \
    cudnnStatus_t sgml_st_ = (stmt);                                                                    \
    if (sgml_st_ != CUDNN_STATUS_SUCCESS) ::sgml::throw_cudnn_error(#stmt, sgml_st_, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: the launch error, and with SGML_SYNC_CHECK=1 the execution error too.
#define SGML_CUDA_CHECK_LAUNCH()                                                        \
  do {                                                                                  \
    SGML_CUDA_CHECK(cudaGetLastError());                                                \
    if (::sgml::sync_check_enabled()) SGML_CUDA_CHECK(cudaDeviceSynchronize());         \
  } while (0)
