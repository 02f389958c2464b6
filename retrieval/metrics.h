// Retrieval metrics of an embedding: Recall@K, MAP@R and the NMI of a k-means clustering.
//
// Conventions (every query is in every denominator):
// - Recall@K: a query scores 1 when one of its first K results has its label. A query whose label has no other
//   item in the gallery can never score, and counts as a miss (pytorch-metric-learning would drop such "lone"
//   queries instead; the standard CUB and In-shop splits have none). K larger than the gallery means all of it.
// - MAP@R (Musgrave et al., "A Metric Learning Reality Check"): R = number of gallery items with the query's label
//   (the query itself excluded in leave-one-out); AP@R = (1/R) sum_{i<=R} precision@i * [result i is relevant].
//   A query with R = 0 scores 0. Tied scores are ranked by the lower gallery index, as in knn_search.
// - NMI: rows L2-normalised, k-means with as many clusters as labels (kmeans.h, seeded), NMI of the clusters
//   against the labels (nmi.h). Query/gallery evaluation clusters the union of both sets.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tensor.h"
#include "retrieval/knn_search.h"

namespace sgml {

// Fraction of queries with a gallery item of their label among their first k results (k <= knn.k).
double recall_at_k(const KnnResult& knn, const std::vector<int64_t>& query_labels,
                   const std::vector<int64_t>& gallery_labels, int k);

// Number of relevant gallery items for each query: gallery items with its label, minus itself in leave-one-out.
std::vector<int64_t> relevant_counts(const std::vector<int64_t>& query_labels,
                                     const std::vector<int64_t>& gallery_labels, bool leave_one_out);

// Mean of AP@R over the queries; needs knn.k >= the largest R.
double map_at_r(const KnnResult& knn, const std::vector<int64_t>& query_labels,
                const std::vector<int64_t>& gallery_labels, bool leave_one_out);

struct EvalOptions {
  bool compute_nmi = true;  // k-means costs O(classes * N * D) per iteration: skip it when only recall matters
  uint64_t kmeans_seed = 0;
  int kmeans_restarts = 1;  // seeded k-means runs, the lowest inertia kept (kmeans.h)
  int64_t block_rows = kDefaultKnnBlockRows;
};

struct RetrievalMetrics {
  std::map<int, double> recall;  // K -> Recall@K in [0, 1]
  double map_at_r = 0;
  std::optional<double> nmi;     // when computed
  bool leave_one_out = false;
  int64_t num_queries = 0, num_gallery = 0;
  int64_t queries_without_match = 0;  // queries whose label is nowhere else in the gallery (R = 0)
  KnnResult neighbours;               // the top lists the metrics were computed from (k = max(max K, max R))

  // The images each query is ranked against: the gallery, less the query itself in leave-one-out. A Recall@K with K
  // above it equals Recall@candidates().
  int64_t candidates() const { return leave_one_out ? num_gallery - 1 : num_gallery; }

  // {"recall@1": .., "recall@10": .., "map@r": .., "nmi": .. (when computed), "num_queries", "num_gallery",
  //  "queries_without_match", "protocol": "query-gallery" | "leave-one-out"}
  nlohmann::json to_json() const;
};

// Query set against gallery set (In-shop protocol). Features are copied to `device` when they live elsewhere.
RetrievalMetrics evaluate_retrieval(const Tensor& query_features /*(M,D)*/, const std::vector<int64_t>& query_labels,
                                    const Tensor& gallery_features /*(N,D)*/,
                                    const std::vector<int64_t>& gallery_labels, const std::vector<int>& ks,
                                    Device device, const EvalOptions& options = {});

// Every item queries all the others (CUB protocol).
RetrievalMetrics evaluate_leave_one_out(const Tensor& features /*(N,D)*/, const std::vector<int64_t>& labels,
                                        const std::vector<int>& ks, Device device, const EvalOptions& options = {});

// NMI of k-means on the L2-normalised rows with as many clusters as distinct labels.
double clustering_nmi(const Tensor& features /*(N,D)*/, const std::vector<int64_t>& labels, uint64_t seed = 0,
                      int restarts = 1);

}  // namespace sgml
