// --precision fp32 | tf32 (engine/math_precision.h): parsing on every machine; on a GPU, TF32 really engages in
// matrix products (its error against the fp32 CPU product is TF32's, far above fp32's) and convolutions stay within
// TF32's tolerance. The default stays strict fp32.
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/check.h"
#include "engine/math_precision.h"
#include "layers/conv2d.h"
#include "layers/gemm.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// Restores the process-wide precision when a test ends, passed or not.
struct PrecisionScope {
  explicit PrecisionScope(MathPrecision p) { set_math_precision(p); }
  ~PrecisionScope() { set_math_precision(MathPrecision::Fp32); }
};

TEST(MathPrecision, ParsesTheTwoNamesAndRefusesOthersSayingWhichExist) {
  EXPECT_EQ(math_precision(), MathPrecision::Fp32);  // the default: what the CPU computes
  EXPECT_EQ(parse_math_precision("fp32"), MathPrecision::Fp32);
  EXPECT_EQ(parse_math_precision("tf32"), MathPrecision::Tf32);
  EXPECT_STREQ(math_precision_name(MathPrecision::Tf32), "tf32");
  try {
    parse_math_precision("bf16");
    FAIL() << "bf16 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'bf16'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fp32"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tf32"), std::string::npos) << e.what();
  }
}

TEST(MathPrecisionCuda, Tf32ProductsCarryTf32ErrorAndFp32ProductsDoNot) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN("it measures TF32's rounding in cuBLAS");
  const Tensor a = test::random_tensor({384, 512}, 1), b = test::random_tensor({512, 256}, 2);
  const Tensor reference = matmul(a, false, b, false);  // CPU, fp32
  const Device gpu = test::gpu();
  double err[2];
  for (MathPrecision p : {MathPrecision::Fp32, MathPrecision::Tf32}) {
    PrecisionScope scope(p);
    err[int(p)] = test::relative_error(matmul(a.to(gpu), false, b.to(gpu), false).to(Device::cpu()), reference);
    std::printf("gemm 384x512x256 under %s: relative error vs the CPU %.3g\n", math_precision_name(p), err[int(p)]);
  }
  EXPECT_LT(err[0], 1e-5);  // strict fp32: summation order only
  EXPECT_GT(err[1], 1e-5);  // TF32 rounds the inputs to 10 mantissa bits: if this fails, TF32 never engaged
  EXPECT_LT(err[1], 5e-3);
}

TEST(MathPrecisionCuda, Tf32ConvolutionsStayWithinTf32Tolerance) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor x = test::random_tensor({8, 64, 28, 28}, 3), w = test::random_tensor({64, 64, 3, 3}, 4);
  const Tensor y = conv2d_forward(x, w, 1, 1), dy = test::random_tensor(y.shape(), 5);
  const Tensor dx = conv2d_backward_data(dy, w, x.shape(), 1, 1), dw = conv2d_backward_filter(dy, x, w.shape(), 1, 1);
  const Device gpu = test::gpu();
  PrecisionScope scope(MathPrecision::Tf32);
  const Tensor gy = conv2d_forward(x.to(gpu), w.to(gpu), 1, 1).to(Device::cpu());
  const Tensor gdx = conv2d_backward_data(dy.to(gpu), w.to(gpu), x.shape(), 1, 1).to(Device::cpu());
  const Tensor gdw = conv2d_backward_filter(dy.to(gpu), x.to(gpu), w.shape(), 1, 1).to(Device::cpu());
  const double ey = test::relative_error(gy, y), edx = test::relative_error(gdx, dx),
               edw = test::relative_error(gdw, dw);
  std::printf("conv2d 8x64x28x28 w64x64x3x3 under tf32: relative error forward %.3g, data %.3g, filter %.3g\n", ey,
              edx, edw);
  EXPECT_LT(ey, 5e-3);
  EXPECT_LT(edx, 5e-3);
  EXPECT_LT(edw, 5e-3);
}

}  // namespace
