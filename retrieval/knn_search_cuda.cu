// GPU top-k selection: one thread block per query row, k rounds of a block-wide argmax.
//
// Every thread keeps the best candidate of its strided share of the row among the elements not yet selected.
// A round reduces those candidates in shared memory to the winner (the next rank); only the thread that owned the
// winner rescans its share, for the best element ranking after the winner. The order (higher score, then lower
// index) is strict, so "ranks after the previous winner" is exactly "not yet selected" and nothing is marked.
// Cost per row: one pass over the row, then per rank a reduction and one thread's rescan of cols / 256 elements.
#include <cfloat>
#include <climits>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "retrieval/knn_search.h"

namespace sgml::cuda {

namespace {

constexpr int kSelectThreads = 256;  // a power of two (tree reduction)

__device__ __forceinline__ bool ranks_before(float score_a, int index_a, float score_b, int index_b) {
  return score_a > score_b || (score_a == score_b && index_a < index_b);
}

// The best element of this thread's share (columns threadIdx.x + j * blockDim.x) that ranks after
// (after_score, after_index); (-inf, INT_MAX), which ranks after every element, when there is none.
__device__ void best_after(const float* row, int cols, int self, float after_score, int after_index,
                           float& best_score, int& best_index) {
  best_score = -INFINITY;
  best_index = INT_MAX;
  for (int c = threadIdx.x; c < cols; c += blockDim.x) {
    const float s = row[c];
    if (c != self && ranks_before(after_score, after_index, s, c) && ranks_before(s, c, best_score, best_index)) {
      best_score = s;
      best_index = c;
    }
  }
}

__global__ void select_top_k_kernel(int32_t* out_indices /*(rows,k)*/, float* out_scores /*(rows,k)*/,
                                    const float* scores /*(rows,cols)*/, int cols, int k, int exclude_self,
                                    long long first_query) {
  __shared__ float reduce_score[kSelectThreads];
  __shared__ int reduce_index[kSelectThreads];
  const int t = threadIdx.x;
  const long long r = blockIdx.x;
  const float* row = scores + r * cols;
  const int self = exclude_self ? int(first_query + r) : -1;

  float mine_score;
  int mine_index;
  best_after(row, cols, self, INFINITY, -1, mine_score, mine_index);  // (+inf, -1) ranks before everything
  for (int rank = 0; rank < k; ++rank) {
    reduce_score[t] = mine_score;
    reduce_index[t] = mine_index;
    __syncthreads();
    for (int stride = kSelectThreads / 2; stride > 0; stride >>= 1) {
      if (t < stride && ranks_before(reduce_score[t + stride], reduce_index[t + stride], reduce_score[t],
                                     reduce_index[t])) {
        reduce_score[t] = reduce_score[t + stride];
        reduce_index[t] = reduce_index[t + stride];
      }
      __syncthreads();
    }
    const float winner_score = reduce_score[0];
    const int winner_index = reduce_index[0];
    if (t == 0) {
      out_indices[r * k + rank] = winner_index;
      out_scores[r * k + rank] = winner_score;
    }
    // Every other thread's candidate still ranks after the winner, so it stays the best of its share.
    if (mine_index == winner_index) best_after(row, cols, self, winner_score, winner_index, mine_score, mine_index);
    __syncthreads();  // everyone has read reduce_*[0] before the next round overwrites it
  }
}

}  // namespace

void select_top_k(int32_t* out_indices, float* out_scores, const float* scores, int rows, int cols, int k,
                  bool exclude_self, int64_t first_query) {
  if (rows == 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  select_top_k_kernel<<<rows, kSelectThreads, 0, stream>>>(out_indices, out_scores, scores, cols, k,
                                                            exclude_self ? 1 : 0, (long long)first_query);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
