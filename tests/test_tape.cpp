// The autograd tape itself: fan-in accumulation, graphs whose intermediates only the graph owns, no_grad, and
// parameters whose gradients accumulate into a flat buffer.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/check.h"
#include "engine/parameter_store.h"
#include "layers/functional.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// y = relu(x) + relu(x): every element of dx is 2 * dy where x > 0, from two contributions that add up.
TEST(Tape, GradientsAddUpAtFanIn) {
  Tensor xv = test::random_tensor({3, 4}, 5);
  Variable x(xv, true);
  Variable r = fn::relu(x);
  Variable y = fn::add(r, r);
  Tensor dy = test::random_tensor({3, 4}, 6);
  y.backward(dy);
  const auto xs = xv.to_vector(), ds = dy.to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_FLOAT_EQ(g[i], xs[i] > 0 ? 2 * ds[i] : 0.0f);
}

// Intermediates created in a function and dropped by it are owned only by the graph; backward must keep them
// alive while it runs (a use-after-free here once crashed the objective).
Variable deep_chain(const Variable& x) {
  Variable h = x;
  for (int i = 0; i < 50; ++i) h = fn::l2_normalize(fn::matmul(h, false, h, true));
  return h;
}

TEST(Tape, IntermediatesOwnedOnlyByTheGraphSurviveBackward) {
  Variable x(test::random_tensor({4, 4}, 9), true);
  Variable y = deep_chain(x);
  y.backward(Tensor::full({4, 4}, 1.0f));
  ASSERT_TRUE(x.has_grad());
  for (float v : x.grad().to_vector()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Tape, NoGradRecordsNothing) {
  Variable x(test::random_tensor({2, 3}, 1), true);
  Variable y;
  {
    NoGradGuard guard;
    y = fn::relu(x);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THROW(y.backward(Tensor::full({2, 3}, 1.0f)), Error);
  EXPECT_TRUE(fn::relu(x).requires_grad());
}

TEST(Tape, FlatGradientBufferAccumulatesAndZeroes) {
  ParameterStore store;
  Variable w = store.add_parameter("w", test::random_tensor({3, 2}, 2));
  Variable b = store.add_parameter("b", test::random_tensor({3}, 3));
  store.flatten();
  Variable x(test::random_tensor({4, 2}, 4));
  for (int pass = 0; pass < 2; ++pass) fn::linear(x, w, b).backward(Tensor::full({4, 3}, 1.0f));
  // Two passes accumulate: db = 2 * (rows of x) = 8 for every output.
  for (float v : store.flat_grads().view(6, {3}).to_vector()) EXPECT_FLOAT_EQ(v, 8.0f);
  EXPECT_EQ(w.value().data(), store.flat_params().data());  // the parameter is a view into the flat buffer
  store.zero_grads();
  for (float v : store.flat_grads().to_vector()) EXPECT_EQ(v, 0.0f);
}

}  // namespace
