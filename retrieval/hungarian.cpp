#include "retrieval/hungarian.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/check.h"

namespace sgml {

Assignment linear_sum_assignment(const std::vector<double>& cost, int rows, int cols) {
  SGML_CHECK(rows >= 0 && cols >= 0, "linear_sum_assignment: a cost matrix of ", rows, " x ", cols);
  SGML_CHECK(int64_t(cost.size()) == int64_t(rows) * cols, "linear_sum_assignment: ", cost.size(),
             " costs for a ", rows, " x ", cols, " matrix");
  double low = 0.0;
  for (size_t e = 0; e < cost.size(); ++e) {
    SGML_CHECK(std::isfinite(cost[e]), "linear_sum_assignment: the cost of row ", e / cols, ", column ", e % cols,
               " is not finite (", cost[e], ")");
    low = e == 0 ? cost[e] : std::min(low, cost[e]);
  }
  Assignment result;
  if (rows == 0 || cols == 0) return result;
  // The algorithm needs n <= m: solve the transpose of a tall matrix. Costs shifted to start at 0, so that the
  // potentials stay within the range of the costs (the shift changes every assignment's cost alike).
  const bool transposed = rows > cols;
  const int n = transposed ? cols : rows, m = transposed ? rows : cols;
  auto a = [&](int i, int j) {  // 1-based (i, j) of the n x m problem
    const size_t e = transposed ? size_t(j - 1) * cols + (i - 1) : size_t(i - 1) * cols + (j - 1);
    return cost[e] - low;
  };
  SGML_CHECK(std::isfinite(*std::max_element(cost.begin(), cost.end()) - low),
             "linear_sum_assignment: the range of the costs overflows a double");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0);  // row and column potentials
  std::vector<int> match(m + 1, 0), way(m + 1, 0);   // match[j]: the row (1-based) of column j, 0: none
  for (int i = 1; i <= n; ++i) {
    // Shortest augmenting path from row i over reduced costs a - u - v (Dijkstra on the columns); column 0 is the
    // virtual start.
    match[0] = i;
    int j0 = 0;
    std::vector<double> min_reduced(m + 1, inf);
    std::vector<char> used(m + 1, 0);
    do {
      used[j0] = 1;
      const int i0 = match[j0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const double reduced = a(i0, j) - u[i0] - v[j];
        if (reduced < min_reduced[j]) {
          min_reduced[j] = reduced;
          way[j] = j0;
        }
        if (min_reduced[j] < delta) {  // strict: the lowest column wins a tie
          delta = min_reduced[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[match[j]] += delta;
          v[j] -= delta;
        } else {
          min_reduced[j] -= delta;
        }
      }
      j0 = j1;
    } while (match[j0] != 0);
    do {  // augment along the path
      const int j1 = way[j0];
      match[j0] = match[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<std::pair<int, int>> pairs;
  for (int j = 1; j <= m; ++j) {
    if (match[j] == 0) continue;
    const int r = transposed ? j - 1 : match[j] - 1, c = transposed ? match[j] - 1 : j - 1;
    pairs.emplace_back(r, c);
  }
  std::sort(pairs.begin(), pairs.end());
  for (const auto& [r, c] : pairs) {
    result.rows.push_back(r);
    result.cols.push_back(c);
    result.cost += cost[size_t(r) * cols + c];
  }
  return result;
}

}  // namespace sgml
