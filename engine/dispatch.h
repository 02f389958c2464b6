// Device dispatch for ops: the CPU twin or the CUDA twin, chosen by where the tensor lives. In a build without
// CUDA the CUDA branch is an error and the cuda:: functions are never referenced.
#pragma once
#include "engine/check.h"

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
