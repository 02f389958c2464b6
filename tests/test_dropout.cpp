// Dropout (layers/dropout.h): the fraction kept follows p (a binomial test, 5 standard deviations, fixed seeds), every
// output is 0 or x / (1 - p) exactly, the backward pass drops the same elements, masks are a pure function of the
// seed, p = 0 is the identity, and the CUDA twin drops exactly the CPU twin's elements.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/check.h"
#include "engine/device.h"
#include "layers/dropout.h"
#include "layers/functional.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

TEST(Dropout, KeepsTheRightFractionAndScalesTheRest) {
  const int64_t n = 1 << 20;
  const Tensor x = test::random_tensor({n}, 8, 0.5f, 1.5f);  // never 0: a 0 output means dropped
  for (float p : {0.01f, 0.3f, 0.9f}) {
    SCOPED_TRACE(p);
    const Tensor y = dropout_forward(x, p, 77);
    int64_t kept = 0;
    const float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; ++i) {
      const float v = y.data()[i];
      if (v == 0.0f) continue;
      ++kept;
      ASSERT_EQ(v, x.data()[i] * scale) << i;
    }
    const double expected = (1.0 - p) * n, sd = std::sqrt(n * p * (1.0 - p));
    EXPECT_LT(std::fabs(kept - expected), 5.0 * sd) << "kept " << kept << " of " << n;
  }
  EXPECT_EQ(dropout_forward(x, 0.0f, 3).data(), x.data()) << "p = 0: x itself";
}

TEST(Dropout, BackwardDropsTheSameElementsAndSeedsDecide) {
  const Tensor x = test::random_tensor({64, 33}, 9, 0.5f, 1.5f);
  Variable v(x, true);
  Variable y = fn::dropout(v, 0.4f, 1234);
  Variable loss = fn::matmul(y, false, Variable(Tensor::full({33, 1}, 1.0f)), false);  // (64, 1)
  loss = fn::matmul(Variable(Tensor::full({1, 64}, 1.0f)), false, loss, false);      // the sum of y
  loss.backward();
  const std::vector<float> out = y.value().to_vector(), grad = v.grad().to_vector();
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0.0f) EXPECT_EQ(grad[i], 0.0f) << i;
    else EXPECT_EQ(grad[i], 1.0f / (1.0f - 0.4f)) << i;
  }
  EXPECT_EQ(dropout_forward(x, 0.4f, 1234).to_vector(), out) << "the same seed, the same mask";
  EXPECT_NE(dropout_forward(x, 0.4f, 1235).to_vector(), out) << "another seed, another mask";
  EXPECT_NE(test::error_of([&] { dropout_forward(x, 0.99f, 1); }).find("between 0 and 0.95"), std::string::npos);
  EXPECT_NE(test::error_of([&] { dropout_forward(x, NAN, 1); }).find("dropout"), std::string::npos);
}

TEST(DropoutCuda, DropsExactlyTheCpuElements) {
  SGML_SKIP_WITHOUT_GPU();
  const Tensor x = test::random_tensor({1000, 77}, 10);
  for (float p : {0.01f, 0.5f}) {
    const Tensor cpu = dropout_forward(x, p, 99);
    const Tensor gpu = dropout_forward(x.to(test::gpu()), p, 99);
    SGML_ASSERT_ON_GPU(gpu);
    EXPECT_EQ(gpu.to(Device::cpu()).to_vector(), cpu.to_vector()) << p;
  }
}

}  // namespace
