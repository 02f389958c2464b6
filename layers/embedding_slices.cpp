#include "layers/embedding_slices.h"

#include "engine/check.h"
#include "layers/functional.h"

namespace sgml {

namespace {

// (d, d_k) with a `value` at (begin + j, j): x (N, d) times it is value * x[:, begin:end].
Tensor selection(int dim, int begin, int end, float value, Device device) {
  Tensor p = Tensor::zeros({dim, end - begin});
  for (int j = 0; j < end - begin; ++j) p.data()[int64_t(begin + j) * (end - begin) + j] = value;
  return device.is_cuda() ? p.to(device) : p;  // explicit host-to-device copy
}

}  // namespace

void check_learner_slices(int learners, int dim) {
  SGML_CHECK(learners >= 1, "--learners must be at least 1, got ", learners);
  const int width = (dim + learners - 1) / learners;
  SGML_CHECK(dim - (learners - 1) * width >= 2, "--embedding-dim ", dim, " cannot be split into --learners ",
             learners, " slices of at least 2 dimensions each (slices of ceil(d/K) = ", width, ")");
}

std::pair<int, int> learner_columns(int learner, int learners, int dim) {
  check_learner_slices(learners, dim);
  SGML_CHECK(learner >= 0 && learner < learners, "learner ", learner, " of ", learners);
  const int width = (dim + learners - 1) / learners;
  return {learner * width, std::min((learner + 1) * width, dim)};
}

Variable learner_embedding(const Variable& emb, int learner, int learners) {
  const int dim = static_cast<int>(emb.value().dim(1));
  if (learners == 1) return fn::l2_normalize(emb);
  const auto [begin, end] = learner_columns(learner, learners, dim);
  const Variable p(selection(dim, begin, end, 1.0f, emb.value().device()));
  return fn::l2_normalize(fn::matmul(emb, false, p, false));
}

Variable concatenated_learner_embedding(const Variable& emb, int learners, float scale) {
  const int dim = static_cast<int>(emb.value().dim(1));
  Variable full;
  for (int k = 0; k < learners; ++k) {
    const auto [begin, end] = learners == 1 ? std::pair<int, int>{0, dim} : learner_columns(k, learners, dim);
    // Back to its columns of the full width (the transpose of the selection), scaled.
    const Variable back(selection(dim, begin, end, scale, emb.value().device()));
    const Variable part = fn::matmul(learner_embedding(emb, k, learners), false, back, true);
    full = k == 0 ? part : fn::add(full, part);
  }
  return full;
}

Variable masked_learner_embedding(const Variable& emb, const Variable& masks, int learner) {
  const Tensor& m = masks.value();
  SGML_CHECK(m.ndim() == 2 && emb.value().ndim() == 2 && m.dim(1) == emb.value().dim(1), "learner masks ",
             shape_str(m.shape()), " do not fit the embedding ", shape_str(emb.value().shape()));
  SGML_CHECK(learner >= 0 && learner < m.dim(0), "learner ", learner, " of ", m.dim(0), " masks");
  // Row k of the masks as a product with a constant one-hot row (1, K): exact, and the gradient reaches row k only.
  Tensor pick = Tensor::zeros({1, m.dim(0)});
  pick.data()[learner] = 1.0f;
  const Variable row = fn::matmul(Variable(m.is_cuda() ? pick.to(m.device()) : pick), false, masks, false);
  return fn::l2_normalize(fn::scale_columns(emb, fn::relu(row)));
}

}  // namespace sgml
