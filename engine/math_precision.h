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

// "fp32" | "tf32"; anything else is an error naming the accepted values.
MathPrecision parse_math_precision(const std::string& text);
const char* math_precision_name(MathPrecision precision);

}  // namespace sgml
