// Loads and stores of V consecutive floats for the memory-bound kernels: V = 4 moves a float4 (one 16-byte access
// per thread, closer to the card's bandwidth than four 4-byte ones), V = 1 a float. A kernel templated on V runs
// with 4 where its pointers are 16-byte aligned (aligned16: the allocator's blocks are; views into them may not be)
// and its vectors cannot cross a boundary it cares about, else with 1.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace sgml {

template <int V>
struct Vec;
template <>
struct Vec<1> {
  float v[1];
  __device__ static Vec load(const float* p) { return {{*p}}; }
  __device__ void store(float* p) const { *p = v[0]; }
};
template <>
struct Vec<4> {
  float v[4];
  __device__ static Vec load(const float* p) {
    const float4 f = *reinterpret_cast<const float4*>(p);
    return {{f.x, f.y, f.z, f.w}};
  }
  __device__ void store(float* p) const { *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]); }
};

inline bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

}  // namespace sgml
