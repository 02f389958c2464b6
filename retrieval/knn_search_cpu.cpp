#include <algorithm>
#include <numeric>
#include <vector>

#include "retrieval/knn_search.h"

namespace sgml::cpu {

void select_top_k(int32_t* out_indices, float* out_scores, const float* scores, int rows, int cols, int k,
                  bool exclude_self, int64_t first_query) {
#pragma omp parallel if (int64_t(rows) * cols > 65536)
  {
    std::vector<int32_t> order;  // one candidate list per thread, reused across rows
#pragma omp for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const float* row = scores + int64_t(r) * cols;
      const int64_t self = exclude_self ? first_query + r : -1;
      order.resize(cols);
      std::iota(order.begin(), order.end(), 0);
      if (self >= 0) order.erase(order.begin() + self);
      // Higher score first, then lower index: a strict total order, so the lists do not depend on the algorithm.
      auto before = [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); };
      std::nth_element(order.begin(), order.begin() + (k - 1), order.end(), before);
      std::sort(order.begin(), order.begin() + k, before);
      for (int j = 0; j < k; ++j) {
        out_indices[int64_t(r) * k + j] = order[j];
        out_scores[int64_t(r) * k + j] = row[order[j]];
      }
    }
  }
}

}  // namespace sgml::cpu
