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

// A view must lie inside its storage, also for offsets near int64's limit (their sum with the size once overflowed,
// which UBSan reports and which could wrap to a small number that passed the check).
TEST(Tensor, ViewsStayInsideTheirStorage) {
  Tensor t = test::random_tensor({10}, 2);
  Tensor v = t.view(4, {2, 3});
  EXPECT_EQ(v.data(), t.data() + 4);
  EXPECT_EQ(v.view(2, {4}).data(), t.data() + 6);  // a view of a view counts from its own start
  EXPECT_THROW(v.view(2, {5}), Error);
  EXPECT_THROW(t.view(-1, {1}), Error);
  EXPECT_THROW(t.view(7, {4}), Error);
  EXPECT_THROW(t.view(INT64_MAX, {1}), Error);
  EXPECT_THROW(t.view(INT64_MAX - 5, {10}), Error);
  EXPECT_THROW(t.view(0, {11}), Error);
  EXPECT_EQ(t.view(10, {0}).numel(), 0);  // an empty view at the end
}
