// Device dispatch for ops: the CPU twin or the CUDA twin, chosen by where the tensor lives. In a build without
// CUDA the CUDA branch is an error and the cuda:: functions are never referenced.
#pragma once
#include <initializer_list>

#include "engine/check.h"
#include "engine/device.h"

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

}  // namespace sgml

#ifdef SGML_WITH_CUDA
#define SGML_DISPATCH(tensor, cpu_call, cuda_call) \
  do {                                             \
    if ((tensor).is_cuda()) {                      \
      cuda_call;                                   \
    } else {                                       \
      cpu_call;                                    \
    }                                              \
  } while (0)
#else
#define SGML_DISPATCH(tensor, cpu_call, cuda_call)                                      \
  do {                                                                                \
    if ((tensor).is_cuda()) SGML_FAIL("a CUDA tensor in a build without CUDA");       \
    cpu_call;                                                                         \
  } while (0)
#endif
