// Check macros for CUDA, cuBLAS and cuDNN calls. Included only by CUDA sources (*_cuda.cu, *_cuda.cpp).
// Each failure throws sgml::Error with the statement, the library's error string, file:line and the current op.
// With SGML_SYNC_CHECK=1 in the environment, SGML_CUDA_CHECK_LAUNCH also synchronises, so an asynchronous fault
// is reported at the op that caused it.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/check.h"

namespace sgml {
const char* cublas_status_string(cublasStatus_t status);
bool sync_check_enabled();
}  // namespace sgml

#define SGML_CUDA_CHECK(stmt)                                                                               \
  do {                                                                                                      \
    cudaError_t sgml_err_ = (stmt);                                                                         \
    if (sgml_err_ != cudaSuccess)                                                                           \
      ::sgml::throw_error(::sgml::str_cat("CUDA call failed: ", #stmt, ": ", cudaGetErrorString(sgml_err_)), \
                          __FILE__, __LINE__);                                                              \
  } while (0)

#define SGML_CUBLAS_CHECK(stmt)                                                                   \
  do {                                                                                            \
    cublasStatus_t sgml_st_ = (stmt);                                                             \
    if (sgml_st_ != CUBLAS_STATUS_SUCCESS)                                                        \
      ::sgml::throw_error(::sgml::str_cat("cuBLAS call failed: ", #stmt, ": ",                    \
                                          ::sgml::cublas_status_string(sgml_st_)),                \
                          __FILE__, __LINE__);                                                    \
  } while (0)

#define SGML_CUDNN_CHECK(stmt)                                                                                 \
  do {                                                                                                         \
    cudnnStatus_t sgml_st_ = (stmt);                                                                           \
    if (sgml_st_ != CUDNN_STATUS_SUCCESS)                                                                      \
      ::sgml::throw_error(::sgml::str_cat("cuDNN call failed: ", #stmt, ": ", cudnnGetErrorString(sgml_st_)), \
                          __FILE__, __LINE__);                                                                 \
  } while (0)

// After a kernel launch: the launch error, and with SGML_SYNC_CHECK=1 the execution error too.
#define SGML_CUDA_CHECK_LAUNCH()                                                        \
  do {                                                                                  \
    SGML_CUDA_CHECK(cudaGetLastError());                                                \
    if (::sgml::sync_check_enabled()) SGML_CUDA_CHECK(cudaDeviceSynchronize());         \
  } while (0)
