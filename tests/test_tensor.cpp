#include <gtest/gtest.h>

#include "engine/check.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"
#include "tests/support/test_support.h"

using namespace sgml;

TEST(Tensor, ReshapeSharesStorageAndChecksCount) {
  Tensor t = test::random_tensor({2, 3, 4}, 1);
  Tensor r = t.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_EQ(r.data(), t.data());
  EXPECT_THROW(t.reshape({5, 5}), Error);
}

TEST(Tensor, CopyAndFill) {
  Tensor t = Tensor::full({3, 2}, 2.5f);
  Tensor c = t.clone();
  EXPECT_NE(c.data(), t.data());
  EXPECT_EQ(c.to_vector(), std::vector<float>(6, 2.5f));
  EXPECT_THROW(Tensor::empty({2}).copy_from(t), Error);
}
