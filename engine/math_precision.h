// How CUDA matrix products and convolutions may round their float32 inputs: strict fp32 (the default, what the
// CPU computes) or TF32 tensor cores (inputs rounded to 10 mantissa bits, products summed in fp32; about 1e-3
// relative error, several times the speed). One process-wide setting, as PyTorch's allow_tf32: a command sets it
// from --precision before any work. The CPU always computes in fp32.
#pragma once
#include <string>

namespace sgml {

enum class MathPrecision { Fp32, Tf32 };

void set_math_precision(MathPrecision precision);
MathPrecision math_precision();

// Sets the precision for a scope and restores the one before it. Retrieval runs its rankings and k-means in strict
// fp32 inside one, whatever --precision the features were extracted with: TF32 would move about 1e-3 of the cosine
// scores and with them some neighbours (PyTorch's matrix products are fp32 unless asked otherwise).
class MathPrecisionScope {
 public:
  explicit MathPrecisionScope(MathPrecision precision) : previous_(math_precision()) { set_math_precision(precision); }
  ~MathPrecisionScope() { set_math_precision(previous_); }
  MathPrecisionScope(const MathPrecisionScope&) = delete;
  MathPrecisionScope& operator=(const MathPrecisionScope&) = delete;

 private:
  MathPrecision previous_;
};

// "fp32" | "tf32"; anything else is an error naming the accepted values.
MathPrecision parse_math_precision(const std::string& text);
const char* math_precision_name(MathPrecision precision);

}  // namespace sgml
