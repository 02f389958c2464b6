// k-nearest-neighbour search by cosine similarity: for every query row, the k gallery rows with the highest
// similarity, best first, ties broken by the lower gallery index (a strict total order, so every device and every
// block size gives the same lists).
//
// Blocked: queries are processed `block_rows` at a time, one GEMM (layers/gemm.h) per block into a (block_rows, N)
// similarity buffer, then a per-row top-k selection, so the full M x N matrix is never held. Selection runs where
// the features live: a partial sort per row on the CPU, one thread block per row on the GPU (knn_search_cuda.cu).
// GPU selection costs one block-wide reduction per rank, so for k > kGpuTopKMax the block's similarities are copied
// to the host and selected there instead.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

// Above this k the GPU selection (k rounds of a block-wide argmax) is slower than copying the block to the host.
constexpr int kGpuTopKMax = 1024;
constexpr int64_t kDefaultKnnBlockRows = 1024;

struct KnnOptions {
  // The query set is the gallery set (CUB protocol): query i never ranks gallery item i. Duplicates of i (other
  // rows with the same features) are still ranked.
  bool leave_one_out = false;
  int64_t block_rows = kDefaultKnnBlockRows;  // queries per GEMM
};

// Top-k lists on the host, row-major.
struct KnnResult {
  int64_t num_queries = 0;
  int k = 0;
  std::vector<int32_t> indices;  // (num_queries, k) gallery indices, best first
  std::vector<float> scores;     // (num_queries, k) their similarities, non-increasing along each row

  int32_t index(int64_t query, int rank) const { return indices[size_t(query) * k + rank]; }
  float score(int64_t query, int rank) const { return scores[size_t(query) * k + rank]; }
};

// Rows of queries (M,D) and gallery (N,D) are L2-normalised (rows of zeros stay zero and score 0 with everything),
// then ranked by their inner product. Both tensors on the same device; the search runs there. Requires
// 1 <= k <= N (N - 1 with leave_one_out) and finite features.
KnnResult knn_search(const Tensor& queries /*(M,D)*/, const Tensor& gallery /*(N,D)*/, int k,
                     const KnnOptions& options = {});

// The same search on raw inner products a . b (no normalisation): the building block of knn_search and of k-means
// assignment (nearest centroid = largest 2 x.c - |c|^2, an inner product of augmented rows).
KnnResult top_k_inner_product(const Tensor& a /*(M,D)*/, const Tensor& b /*(N,D)*/, int k,
                              const KnnOptions& options = {});

// Per-row selection, the CPU and CUDA twins. scores (rows, cols) row-major; row r of this block is query
// first_query + r; with exclude_self that query's own column (same index) is skipped.
namespace cpu {
void select_top_k(int32_t* out_indices /*(rows,k)*/, float* out_scores /*(rows,k)*/, const float* scores,
                  int rows, int cols, int k, bool exclude_self, int64_t first_query);
}  // namespace cpu
namespace cuda {
void select_top_k(int32_t* out_indices /*(rows,k)*/, float* out_scores /*(rows,k)*/, const float* scores,
                  int rows, int cols, int k, bool exclude_self, int64_t first_query);
}  // namespace cuda

}  // namespace sgml
