#include "engine/math_precision.h"

#include <atomic>

#include "engine/check.h"

namespace sgml {

namespace {
std::atomic<MathPrecision> g_precision{MathPrecision::Fp32};
}  // namespace

void set_math_precision(MathPrecision precision) { g_precision.store(precision); }
MathPrecision math_precision() { return g_precision.load(); }

MathPrecision parse_math_precision(const std::string& text) {
  if (text == "fp32") return MathPrecision::Fp32;
  if (text == "tf32") return MathPrecision::Tf32;
  SGML_FAIL("unknown precision '", text, "': expected fp32 (strict float32) or tf32 (TF32 tensor cores for CUDA ",
            "matrix products and convolutions)");
}

const char* math_precision_name(MathPrecision precision) {
  return precision == MathPrecision::Tf32 ? "tf32" : "fp32";
}

}  // namespace sgml
