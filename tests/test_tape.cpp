// The autograd tape itself: fan-in accumulation, graphs whose intermediates only the graph owns, no_grad, and
// parameters whose gradients accumulate into a flat buffer.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/check.h"
#include "engine/parameter_store.h"
#include "engine/tensor_math.h"
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

// The tape frees each closure as it runs it: a second backward through a consumed graph, from the same output or
// from a new op on one of its intermediates, is an error rather than gradients that silently stop at it.
TEST(Tape, ASecondBackwardThroughAConsumedGraphIsAnError) {
  Variable x(test::random_tensor({3, 4}, 5), true);
  Variable r = fn::relu(x);
  Variable y = fn::add(r, r);
  y.backward(Tensor::full({3, 4}, 1.0f));
  const std::vector<float> after_first = x.grad().to_vector();
  auto expect_refused = [&](Variable out) {
    try {
      out.backward(Tensor::full({3, 4}, 1.0f));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("already consumed"), std::string::npos) << e.what();
    }
    EXPECT_EQ(x.grad().to_vector(), after_first) << "nothing half-done";
  };
  expect_refused(y);
  expect_refused(fn::relu(r));  // a new op on an intermediate of the consumed graph
  // A fresh forward from the same leaf backpropagates again, adding to the gradient.
  Variable y2 = fn::add(fn::relu(x), fn::relu(x));
  y2.backward(Tensor::full({3, 4}, 1.0f));
  const std::vector<float> g = x.grad().to_vector();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_FLOAT_EQ(g[i], 2 * after_first[i]);
  // A leaf has no closure to consume: its backward adds the seed each time.
  Variable leaf(Tensor::zeros({2}), true);
  leaf.backward(Tensor::full({2}, 1.0f));
  leaf.backward(Tensor::full({2}, 1.0f));
  EXPECT_EQ(leaf.grad().to_vector(), (std::vector<float>{2.0f, 2.0f}));
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

// The graph holds no values: an intermediate that no backward needs is freed with its last handle (here the only
// other holder is the test's own copy), one that a closure keeps stays, and the gradients are still right.
TEST(Tape, IntermediatesNoBackwardNeedsAreFreedWithTheirLastHandle) {
  const Tensor xv = test::random_tensor({3, 4}, 11), dy = test::random_tensor({3, 4}, 12);
  Variable x(xv, true);
  Variable sum = fn::add(x, x);  // add's backward needs no value
  Variable r = fn::relu(sum);    // relu's keeps its output
  const Variable out = fn::add(r, r);
  const Tensor sum_value = sum.value(), r_value = r.value();
  EXPECT_FALSE(sum_value.storage_unshared());
  sum = Variable();
  r = Variable();
  EXPECT_TRUE(sum_value.storage_unshared());  // freed by the graph: only this copy is left
  EXPECT_FALSE(r_value.storage_unshared());   // relu's closure keeps it
  Variable(out).backward(dy);
  const auto s = sum_value.to_vector(), d = dy.to_vector(), g = x.grad().to_vector();
  for (size_t i = 0; i < s.size(); ++i) EXPECT_FLOAT_EQ(g[i], s[i] > 0 ? 4 * d[i] : 0.0f);
}

// A closure that reads an input's value (which the graph does not keep) gets an error saying so.
TEST(Tape, AnInputsValueIsNotAvailableInsideABackward) {
  Variable x(test::random_tensor({2, 2}, 13), true);
  Variable y(Tensor::zeros({2, 2}), {x}, [](std::vector<Variable>& in, const Tensor&) { (void)in[0].value(); });
  const std::string what = test::error_of([&] { y.backward(Tensor::zeros({2, 2})); });
  EXPECT_NE(what.find("closure must keep what its gradient needs"), std::string::npos) << what;
}

// add_grad_with: a writer stores (accumulate false) into a new gradient or adds into the one that exists. Each case
// checks the values against sums formed here, and which storage ends up holding them.
std::vector<float> plus(std::vector<float> a, const std::vector<float>& b) {
  for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  return a;
}
Variable::GradWriter writer_of(const Tensor& g, std::vector<bool>* calls) {
  return [g, calls](Tensor& out, bool accumulate) {
    calls->push_back(accumulate);
    if (accumulate)
      add_inplace(out, g);
    else
      out.copy_from(g);
  };
}

TEST(Tape, GradWriterStoresTheFirstGradientAndAddsLaterOnes) {
  const Tensor g1 = test::random_tensor({2, 3}, 1), g2 = test::random_tensor({2, 3}, 2);
  Variable x(Tensor::zeros({2, 3}), true);
  std::vector<bool> calls;
  x.add_grad_with(writer_of(g1, &calls));
  x.add_grad_with(writer_of(g2, &calls));
  EXPECT_EQ(calls, (std::vector<bool>{false, true}));
  EXPECT_EQ(x.grad().to_vector(), plus(g1.to_vector(), g2.to_vector()));
  Variable constant(Tensor::zeros({2, 3}), false);  // nothing is computed for a value without gradient
  constant.add_grad_with(writer_of(g1, &calls));
  EXPECT_EQ(calls.size(), 2u);
}

// A borrowed gradient that someone else still holds (here the caller) is copied before the writer adds into it.
TEST(Tape, GradWriterLeavesASharedBorrowedGradientUntouched) {
  const Tensor held = test::random_tensor({2, 3}, 3), g = test::random_tensor({2, 3}, 4);
  const std::vector<float> before = held.to_vector();
  Variable x(Tensor::zeros({2, 3}), true);
  x.add_grad(held);
  std::vector<bool> calls;
  x.add_grad_with(writer_of(g, &calls));
  EXPECT_EQ(held.to_vector(), before);
  EXPECT_NE(x.grad().data(), held.data());
  EXPECT_EQ(x.grad().to_vector(), plus(before, g.to_vector()));
}

// A borrowed gradient that nothing else refers to any more (a block input's masked gradient once the batch norm's
// backward is done) is added into where it is: no new tensor.
TEST(Tape, GradWriterAddsIntoAnUnsharedBorrowedGradientInPlace) {
  Tensor first = test::random_tensor({2, 3}, 5);
  const std::vector<float> values = first.to_vector();
  const float* storage = first.data();
  const Tensor g = test::random_tensor({2, 3}, 6), g3 = test::random_tensor({2, 3}, 7);
  Variable x(Tensor::zeros({2, 3}), true);
  x.add_grad(first);
  first = Tensor();  // the gradient is now its only holder
  std::vector<bool> calls;
  x.add_grad_with(writer_of(g, &calls));
  EXPECT_EQ(x.grad().data(), storage);
  EXPECT_EQ(x.grad().to_vector(), plus(values, g.to_vector()));
  // add_grad adopts it the same way.
  x.add_grad(g3);
  EXPECT_EQ(x.grad().data(), storage);
  EXPECT_EQ(x.grad().to_vector(), plus(plus(values, g.to_vector()), g3.to_vector()));
}

TEST(Tape, GradWriterAddsIntoAFlatGradientBuffer) {
  ParameterStore store;
  Variable w = store.add_parameter("w", test::random_tensor({2, 3}, 8));
  store.flatten();
  const Tensor g = test::random_tensor({2, 3}, 9);
  std::vector<bool> calls;
  w.add_grad_with(writer_of(g, &calls));
  w.add_grad_with(writer_of(g, &calls));
  EXPECT_EQ(calls, (std::vector<bool>{true, true}));  // the zeroed buffer is added into from the first gradient on
  EXPECT_EQ(w.grad().data(), store.flat_grads().data());
  EXPECT_EQ(w.grad().to_vector(), plus(g.to_vector(), g.to_vector()));
}

}  // namespace
