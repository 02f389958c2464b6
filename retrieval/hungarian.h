// The linear sum assignment problem, solved exactly by the Hungarian algorithm (Kuhn-Munkres in the shortest
// augmenting path form with row and column potentials, O(r^2 c) for r <= c): given a cost matrix (rows, cols),
// pick min(rows, cols) cells, at most one per row and per column, with the least total cost. Divide & Conquer uses
// it to keep each learner on roughly the same data after a re-clustering (costs: L1 distances between cluster
// membership vectors, training/dnc_*). Same contract as scipy.optimize.linear_sum_assignment (minimisation): with
// ties, any optimal assignment is correct; ours is deterministic (the lowest column index wins a tie).
#pragma once
#include <cstdint>
#include <vector>

namespace sgml {

struct Assignment {
  std::vector<int> rows, cols;  // (min(r, c)) matched pairs, rows increasing
  double cost = 0;              // sum of the matched costs
};

// cost: row-major (rows, cols), every entry finite (NaN and infinities are refused, naming the cell); rows or cols
// may be 0 (an empty assignment).
Assignment linear_sum_assignment(const std::vector<double>& cost, int rows, int cols);

}  // namespace sgml
