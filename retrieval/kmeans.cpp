#include "retrieval/kmeans.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/check.h"
#include "engine/math_precision.h"
#include "layers/gemm.h"
#include "retrieval/knn_search.h"

namespace sgml {

namespace {

// The rows of x on the host plus what every step needs: squared norms and the device copy.
struct Points {
  int64_t n = 0, d = 0;
  std::vector<float> host;        // (N,D)
  std::vector<double> sq_norms;   // (N)
  Tensor device_rows;             // (N,D) on the features' device
};

double squared_distance(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t c = 0; c < d; ++c) {
    const double diff = double(a[c]) - double(b[c]);
    s += diff * diff;
  }
  return s;
}

// Squared distances (L, N) from rows `ids` of the points to every point: |x|^2 + |c|^2 - 2 x.c with one GEMM,
// clamped at 0 (rounding can make a point's distance to itself slightly negative).
std::vector<double> distances_from_rows(const Points& p, const std::vector<int64_t>& ids) {
  const int64_t l = int64_t(ids.size());
  std::vector<float> rows(size_t(l * p.d));
  for (int64_t i = 0; i < l; ++i) std::copy_n(&p.host[size_t(ids[i] * p.d)], p.d, &rows[size_t(i * p.d)]);
  const Tensor centres = Tensor::from_vector(rows, {l, p.d}, p.device_rows.device());
  const std::vector<float> dots = matmul(centres, false, p.device_rows, true).to_vector();  // (L, N)
  std::vector<double> dist(dots.size());
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < p.n; ++j)
      dist[size_t(i * p.n + j)] = std::max(0.0, p.sq_norms[j] + p.sq_norms[ids[i]] - 2.0 * dots[size_t(i * p.n + j)]);
  return dist;
}

// Greedy k-means++ (scikit-learn's _kmeans_plusplus): each new centre is the best of `trials` rows sampled with
// probability proportional to their squared distance to the nearest centre so far.
std::vector<int64_t> kmeans_plus_plus(const Points& p, int k, int trials, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<int64_t> chosen{std::min<int64_t>(int64_t(uniform(rng) * double(p.n)), p.n - 1)};
  std::vector<double> closest = distances_from_rows(p, chosen);
  double potential = 0;
  for (double v : closest) potential += v;
  std::vector<double> cumulative(size_t(p.n));
  for (int c = 1; c < k; ++c) {
    double running = 0;
    for (int64_t j = 0; j < p.n; ++j) cumulative[j] = running += closest[j];
    std::vector<int64_t> candidates(trials);
    for (int t = 0; t < trials; ++t) {
      const double target = uniform(rng) * potential;
      candidates[t] = std::min<int64_t>(std::lower_bound(cumulative.begin(), cumulative.end(), target) -
                                            cumulative.begin(), p.n - 1);
    }
    std::vector<double> dist = distances_from_rows(p, candidates);
    int best = 0;
    double best_potential = INFINITY;
    for (int t = 0; t < trials; ++t) {
      double pot = 0;
      for (int64_t j = 0; j < p.n; ++j) pot += std::min(closest[j], dist[size_t(t * p.n + j)]);
      if (pot < best_potential) best_potential = pot, best = t;
    }
    for (int64_t j = 0; j < p.n; ++j) closest[j] = std::min(closest[j], dist[size_t(best * p.n + j)]);
    potential = best_potential;
    chosen.push_back(candidates[best]);
  }
  return chosen;
}

// Nearest centroid of every point: the largest 2 x.c - |c|^2, an inner product of the augmented rows [x, 1] and
// [2c, -|c|^2], so the blocked top-1 search does it on the device. Also returns each point's squared distance.
std::vector<int32_t> assign(const Tensor& augmented_points /*(N,D+1)*/, const std::vector<float>& centroids, int k,
                            const Points& p, std::vector<double>& distance) {
  std::vector<float> augmented(size_t(k * (p.d + 1)));
  for (int c = 0; c < k; ++c) {
    double sq = 0;
    for (int64_t j = 0; j < p.d; ++j) {
      const float v = centroids[size_t(c * p.d + j)];
      augmented[size_t(c * (p.d + 1) + j)] = 2.0f * v;
      sq += double(v) * v;
    }
    augmented[size_t(c * (p.d + 1) + p.d)] = float(-sq);
  }
  const Tensor centres = Tensor::from_vector(augmented, {k, p.d + 1}, augmented_points.device());
  const KnnResult nearest = top_k_inner_product(augmented_points, centres, 1);
  distance.resize(size_t(p.n));
  for (int64_t i = 0; i < p.n; ++i) distance[i] = std::max(0.0, p.sq_norms[i] - double(nearest.scores[i]));
  return nearest.indices;
}

// Centroids as the means of their points; an empty cluster takes the farthest point not yet taken (removed from
// its old cluster when that leaves the old cluster non-empty).
std::vector<float> update_centroids(const Points& p, const std::vector<int32_t>& assignment,
                                    const std::vector<double>& distance, int k) {
  std::vector<double> sums(size_t(k * p.d), 0.0);
  std::vector<int64_t> counts(k, 0);
  for (int64_t i = 0; i < p.n; ++i) {
    ++counts[assignment[i]];
    for (int64_t j = 0; j < p.d; ++j) sums[size_t(assignment[i] * p.d + j)] += p.host[size_t(i * p.d + j)];
  }
  std::vector<int64_t> by_distance(size_t(p.n));
  size_t next_far = 0;
  bool sorted = false;
  for (int c = 0; c < k; ++c) {
    if (counts[c] > 0) continue;
    if (!sorted) {
      for (int64_t i = 0; i < p.n; ++i) by_distance[i] = i;
      std::stable_sort(by_distance.begin(), by_distance.end(),
                       [&](int64_t a, int64_t b) { return distance[a] > distance[b]; });
      sorted = true;
    }
    const int64_t far = by_distance[next_far++];
    const int old = assignment[far];
    if (counts[old] > 1) {
      --counts[old];
      for (int64_t j = 0; j < p.d; ++j) sums[size_t(old * p.d + j)] -= p.host[size_t(far * p.d + j)];
    }
    counts[c] = 1;
    for (int64_t j = 0; j < p.d; ++j) sums[size_t(c * p.d + j)] = p.host[size_t(far * p.d + j)];
  }
  std::vector<float> centroids(size_t(k * p.d));
  for (int c = 0; c < k; ++c)
    for (int64_t j = 0; j < p.d; ++j) centroids[size_t(c * p.d + j)] = float(sums[size_t(c * p.d + j)] / counts[c]);
  return centroids;
}

// Lloyd iterations from the seed rows until the assignment stops changing (or max_iterations).
KMeansResult lloyd(const Points& p, const Tensor& augmented_points, const std::vector<int64_t>& seeds, int k,
                   int max_iterations) {
  KMeansResult result;
  result.centroids.resize(size_t(k * p.d));
  for (int c = 0; c < k; ++c) std::copy_n(&p.host[size_t(seeds[c] * p.d)], p.d, &result.centroids[size_t(c * p.d)]);
  std::vector<double> distance;
  for (int it = 0; it < max_iterations; ++it) {
    std::vector<int32_t> next = assign(augmented_points, result.centroids, k, p, distance);
    ++result.iterations;
    if (it > 0 && next == result.assignment) {  // the centroids are already the means of this assignment
      result.converged = true;
      break;
    }
    result.assignment = std::move(next);
    result.centroids = update_centroids(p, result.assignment, distance, k);
  }
  if (!result.converged) result.assignment = assign(augmented_points, result.centroids, k, p, distance);
  for (int64_t i = 0; i < p.n; ++i)
    result.inertia +=
        squared_distance(&p.host[size_t(i * p.d)], &result.centroids[size_t(result.assignment[i] * p.d)], p.d);
  return result;
}

}  // namespace

KMeansResult kmeans(const Tensor& x, int k, const KMeansOptions& options) {
  OpScope op("kmeans");
  const MathPrecisionScope fp32(MathPrecision::Fp32);  // nor do the clusters (NMI, Divide & Conquer's data split)
  check_defined(x, "kmeans x");
  SGML_CHECK(x.ndim() == 2, "kmeans needs (N,D) rows, got ", shape_str(x.shape()));
  SGML_CHECK(k >= 1 && k <= x.dim(0), "kmeans: k = ", k, " outside [1, ", x.dim(0), "]");
  SGML_CHECK(options.max_iterations >= 1 && options.restarts >= 1, "kmeans: max_iterations ",
             options.max_iterations, " and restarts ", options.restarts, " must be positive");
  Points p;
  p.n = x.dim(0);
  p.d = x.dim(1);
  p.host = x.to_vector();
  p.device_rows = x;
  p.sq_norms.resize(size_t(p.n));
  for (int64_t i = 0; i < p.n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < p.d; ++j) s += double(p.host[size_t(i * p.d + j)]) * p.host[size_t(i * p.d + j)];
    p.sq_norms[i] = s;
  }
  std::vector<float> augmented(size_t(p.n * (p.d + 1)));
  for (int64_t i = 0; i < p.n; ++i) {
    std::copy_n(&p.host[size_t(i * p.d)], p.d, &augmented[size_t(i * (p.d + 1))]);
    augmented[size_t(i * (p.d + 1) + p.d)] = 1.0f;
  }
  const Tensor augmented_points = Tensor::from_vector(augmented, {p.n, p.d + 1}, x.device());

  std::mt19937_64 rng(options.seed);
  const int trials = options.local_trials > 0 ? options.local_trials : 2 + int(std::log(double(k)));
  KMeansResult best;
  for (int run = 0; run < options.restarts; ++run) {
    KMeansResult r = lloyd(p, augmented_points, kmeans_plus_plus(p, k, trials, rng), k, options.max_iterations);
    if (run == 0 || r.inertia < best.inertia) best = std::move(r);
  }
  return best;
}

}  // namespace sgml
