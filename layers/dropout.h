// Dropout (Divide & Conquer drops 1% of the pooled features before its embedding layer): y = x * keep / (1 - p),
// keep = 0 with probability p. The mask is a pure function of (seed, element index), a counter-based hash
// (splitmix64 of seed + golden * (i + 1), its top 24 bits u; kept iff u >= floor(p 2^24)), so the CPU and CUDA twins
// drop the very same elements, a resumed run redraws the masks of its steps, and the backward pass applies the same
// mask to dy without storing it.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace sgml {

// x: F32 of any shape; p in [0, 0.95] (0 returns x itself).
Tensor dropout_forward(const Tensor& x, float p, uint64_t seed);

namespace cpu {
void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed);
}
namespace cuda {
void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed);
}

}  // namespace sgml
