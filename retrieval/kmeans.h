// k-means clustering for the NMI metric: greedy k-means++ seeding as scikit-learn's (2 + ln k candidate centres
// per step, the one that lowers the potential most is kept), then Lloyd iterations until the assignment stops
// changing; with restarts > 1 the run of lowest inertia is kept (scikit-learn's n_init). Deterministic for a given
// seed: one std::mt19937_64 stream, sequential double sums, ties between equal distances go to the lower centroid.
//
// The distance products run as GEMMs on the device of the features (layers/gemm.h, blocked through
// top_k_inner_product); centroid updates run on the host in double.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

struct KMeansOptions {
  uint64_t seed = 0;
  int max_iterations = 300;  // scikit-learn's default; Lloyd usually stops long before
  int local_trials = 0;      // candidates per seeding step; 0 = 2 + floor(ln k) as scikit-learn
  int restarts = 1;          // seeded runs, the best kept; 1 as scikit-learn's n_init="auto" for k-means++
};

struct KMeansResult {
  std::vector<int32_t> assignment;  // (N) cluster of each row, in [0, k)
  std::vector<float> centroids;     // (k, D) row-major
  double inertia = 0;               // sum of squared distances of the rows to their centroids
  int iterations = 0;               // Lloyd assignment steps taken (by the run kept)
  bool converged = false;           // the assignment stopped changing before max_iterations
};

// Clusters the rows of x (N,D) into k groups, 1 <= k <= N. Rows are clustered as given (normalise first for
// cosine geometry). A cluster that empties is moved to the row farthest from its own centroid, as scikit-learn does.
KMeansResult kmeans(const Tensor& x /*(N,D)*/, int k, const KMeansOptions& options = {});

}  // namespace sgml
