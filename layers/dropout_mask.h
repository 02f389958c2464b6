// The dropout mask's hash (layers/dropout.h), shared by the CPU and CUDA twins (host and device).
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define SGML_DROPOUT_HD __host__ __device__
#else
#define SGML_DROPOUT_HD
#endif

namespace sgml {

// Whether element i is kept: the top 24 bits of splitmix64(seed + golden * (i + 1)) reach `threshold`
// (= floor(p 2^24)).
SGML_DROPOUT_HD inline bool dropout_keeps(uint64_t seed, int64_t i, uint32_t threshold) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return uint32_t(z >> 40) >= threshold;
}

inline uint32_t dropout_threshold(float p) { return static_cast<uint32_t>(double(p) * 16777216.0); }

}  // namespace sgml
