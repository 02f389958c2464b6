// Overflow-free softplus, sigmoid and BCE-with-logits shared by the CPU and CUDA loss kernels (host and device).
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define SGML_HOST_DEVICE __host__ __device__
#else
#define SGML_HOST_DEVICE
#endif

namespace sgml {

// log(1 + e^z) = max(z, 0) + log1p(e^-|z|): e^-|z| <= 1, so no overflow for any z, and log1p keeps the small
// tail (z << 0) accurate instead of rounding 1 + e^z to 1.
SGML_HOST_DEVICE inline float stable_softplus(float z) { return fmaxf(z, 0.0f) + log1pf(expf(-fabsf(z))); }

// 1 / (1 + e^-z), with the exponent always <= 0 so neither branch overflows.
SGML_HOST_DEVICE inline float stable_sigmoid(float z) {
  const float e = expf(-fabsf(z));
  return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

// -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))) = (max(x, 0) - x t) + log1p(e^-|x|). The bracket is exact
// for t in {0, 1} (0 or |x|), so a confident correct logit (x = 20, t = 1) keeps its tiny loss e^-20 instead of
// losing it to softplus(x) - x t.
SGML_HOST_DEVICE inline float stable_bce_with_logits(float x, float t) {
  return (fmaxf(x, 0.0f) - x * t) + log1pf(expf(-fabsf(x)));
}

}  // namespace sgml
