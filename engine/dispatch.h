// Device dispatch for ops: the CPU twin or the CUDA twin, chosen by where the tensor lives. In a build without
// CUDA the CUDA branch is an error and the cuda:: functions are never called (nor linked).
//
// The convention every op follows (layers/, losses/, engine/adam, engine/tensor_math, retrieval/knn_search):
// - The Tensor-level function checks its arguments, allocates and returns its outputs (a small named struct when
//   there are several, e.g. BatchNormTrainResult). Only a tensor that an op updates in place is taken by
//   reference: batch norm's running statistics, Adam's parameters and moments, the target of add_inplace,
//   scale_inplace and add_row_bias, and C of gemm (C = alpha op(A) op(B) + beta C; matmul returns a new C).
// - Its twins cpu::f and cuda::f (files f_cpu.cpp, f_cuda.cu) take IDENTICAL parameter lists, raw pointers and
//   sizes, outputs first. The CUDA twin runs on the current CUDA device (as cuBLAS and cuDNN calls do) and finds
//   its stream with CudaContext::current(); SGML_DISPATCH makes the tensor's device current before calling it.
// - The dispatch names the argument list once: SGML_DISPATCH(x, f, y.data(), x.data(), n) calls
//   cpu::f(y.data(), x.data(), n) or cuda::f(y.data(), x.data(), n) and is an expression of the twins' type.
//   It does not compile when the twins' types differ, in a CPU-only build too.
// - With op profiling on (engine/op_profile.h), the dispatch times the twin it calls, by the op's name.
#pragma once
#include <initializer_list>
#include <type_traits>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/op_profile.h"

namespace sgml {

// One tensor argument of an op, by name, and where it lives.
struct NamedDevice {
  const char* name;
  Device device;
};

// Every tensor an op reads or writes must be on one device: the twin the op dispatches to dereferences every
// pointer on that device (a host pointer in a kernel is an illegal address, which poisons the GPU context; a
// device pointer on the CPU is a crash). Throws naming the op and the first two tensors that disagree.
// Takes devices rather than tensors so that the check itself can be tested without a GPU.
void check_one_device(const char* op, std::initializer_list<NamedDevice> tensors);

// Makes `device` the current CUDA device of this thread (creating its context on first use), for the CUDA twin
// that SGML_DISPATCH calls next. Defined only in a CUDA build (engine/cuda_context_cuda.cpp).
void make_cuda_device_current(int device);

// Fails to compile unless the twins of an op have the same type: the convention above, checked in every build
// (decltype does not need the CUDA twin's definition, so a CPU-only build checks it as well).
template <class CpuTwin, class CudaTwin>
constexpr void check_identical_twins() {
  static_assert(std::is_same<CpuTwin, CudaTwin>::value,
                "the cpu:: and cuda:: twins of an op must take identical parameter lists (engine/dispatch.h)");
}

// Throws for a CUDA tensor in a build without CUDA.
inline void check_cpu_build_device(const Device& device) {
  if (device.is_cuda()) SGML_FAIL("a CUDA tensor in a build without CUDA");
}

}  // namespace sgml

#define SGML_CHECK_IDENTICAL_TWINS(op)                                                               \
  ::sgml::check_identical_twins<decltype(&::sgml::cpu::op), decltype(&::sgml::cuda::op)>()
#ifdef SGML_WITH_CUDA
#define SGML_DISPATCH(tensor, op, ...)                                                               \
  (SGML_CHECK_IDENTICAL_TWINS(op), ::sgml::OpTimer(#op, (tensor).device()),                         \
   (tensor).is_cuda()                                                                                \
       ? (::sgml::make_cuda_device_current((tensor).device().index), ::sgml::cuda::op(__VA_ARGS__))  \
       : ::sgml::cpu::op(__VA_ARGS__))
#else
#define SGML_DISPATCH(tensor, op, ...)                                                               \
  (SGML_CHECK_IDENTICAL_TWINS(op), ::sgml::check_cpu_build_device((tensor).device()),               \
   ::sgml::OpTimer(#op, (tensor).device()), ::sgml::cpu::op(__VA_ARGS__))
#endif
