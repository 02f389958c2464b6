#include "retrieval/knn_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/dispatch.h"
#include "engine/math_precision.h"
#include "layers/gemm.h"
#include "layers/l2_normalize.h"

namespace sgml {

namespace {

void check_finite(const Tensor& t, const char* what) {
  // One host pass; a NaN would make the ranking order undefined (every comparison false).
  const std::vector<float> v = t.to_vector();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      SGML_FAIL(what, " has a non-finite value at row ", i / t.dim(1), ", column ", i % t.dim(1));
}

// Copies one block's (rows, k) lists into the result at row `first_query`.
void store_block(KnnResult& result, int64_t first_query, const Tensor& indices, const Tensor& scores) {
  const Tensor host_indices = indices.is_cuda() ? indices.to(Device::cpu()) : indices;
  const Tensor host_scores = scores.is_cuda() ? scores.to(Device::cpu()) : scores;
  const size_t offset = size_t(first_query) * result.k;
  std::memcpy(result.indices.data() + offset, host_indices.raw_data(), host_indices.nbytes());
  std::memcpy(result.scores.data() + offset, host_scores.raw_data(), host_scores.nbytes());
}

}  // namespace

KnnResult top_k_inner_product(const Tensor& a, const Tensor& b, int k, const KnnOptions& options) {
  OpScope op("top_k_inner_product");
  check_defined(a, "knn queries");
  check_defined(b, "knn gallery");
  SGML_CHECK(a.ndim() == 2 && b.ndim() == 2 && a.dim(1) == b.dim(1),
             "knn needs (M,D) queries and (N,D) gallery with the same number of columns D, got ", shape_str(a.shape()),
             " and ", shape_str(b.shape()));
  check_same_device(a, b, "knn");
  const int64_t m = a.dim(0), n = b.dim(0), d = a.dim(1);
  SGML_CHECK(n < (int64_t(1) << 31), "gallery of ", n, " rows: indices are int32");
  if (options.leave_one_out)
    SGML_CHECK(m == n, "leave-one-out needs the query set to be the gallery, got ", m, " and ", n, " rows");
  const int64_t candidates = options.leave_one_out ? n - 1 : n;
  SGML_CHECK(k >= 1 && k <= candidates, "k = ", k, " outside [1, ", candidates, "] (", n, " gallery rows",
             options.leave_one_out ? ", leave-one-out" : "", ")");
  SGML_CHECK(options.block_rows >= 1, "block_rows must be positive, got ", options.block_rows);

  KnnResult result;
  result.num_queries = m;
  result.k = k;
  result.indices.resize(size_t(m) * k);
  result.scores.resize(size_t(m) * k);
  if (m == 0) return result;

  const Device device = a.device();
  const int64_t block = std::min(options.block_rows, m);
  Tensor similarity = Tensor::empty({block, n}, device);  // reused by every block
  const bool select_on_gpu = device.is_cuda() && k <= kGpuTopKMax;
  Tensor block_indices = Tensor::empty({block, k}, select_on_gpu ? device : Device::cpu(), DType::I32);
  Tensor block_scores = Tensor::empty({block, k}, select_on_gpu ? device : Device::cpu());
  for (int64_t first = 0; first < m; first += block) {
    const int64_t rows = std::min(block, m - first);
    Tensor sim = similarity.view(0, {rows, n});
    gemm(sim, a.view(first * d, {rows, d}), false, b, true);
    Tensor idx = block_indices.view(0, {rows, k}), val = block_scores.view(0, {rows, k});
    int32_t* out_idx = static_cast<int32_t*>(idx.raw_data());
    // The lists live where the selection runs: on the GPU, or on the host for CPU features and for a k too large
    // for the GPU kernel (the block's similarities are copied over first).
    const Tensor scores = val.device() == sim.device() ? sim : sim.to(val.device());
    SGML_DISPATCH(val, select_top_k, out_idx, val.data(), scores.data(), int(rows), int(n), k, options.leave_one_out,
                  first);
    store_block(result, first, idx, val);
  }
  return result;
}

KnnResult knn_search(const Tensor& queries, const Tensor& gallery, int k, const KnnOptions& options) {
  OpScope op("knn_search");
  const MathPrecisionScope fp32(MathPrecision::Fp32);  // rankings do not depend on --precision
  check_defined(queries, "knn queries");
  check_defined(gallery, "knn gallery");
  SGML_CHECK(queries.ndim() == 2 && gallery.ndim() == 2, "knn needs (M,D) queries and (N,D) gallery, got ",
             shape_str(queries.shape()), " and ", shape_str(gallery.shape()));
  const bool same_set = queries.raw_data() == gallery.raw_data() && queries.shape() == gallery.shape();
  check_finite(queries, "knn queries");
  if (!same_set) check_finite(gallery, "knn gallery");
  const Tensor q = l2_normalize_forward(queries).y;
  // One normalisation of a set that is both sides, so the rows are bit-identical.
  const Tensor g = same_set ? q : l2_normalize_forward(gallery).y;
  return top_k_inner_product(q, g, k, options);
}

}  // namespace sgml
