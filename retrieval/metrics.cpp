#include "retrieval/metrics.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "engine/check.h"
#include "layers/l2_normalize.h"
#include "retrieval/kmeans.h"
#include "retrieval/nmi.h"

namespace sgml {

namespace {

void check_labels(const KnnResult& knn, const std::vector<int64_t>& query_labels,
                  const std::vector<int64_t>& gallery_labels) {
  SGML_CHECK(int64_t(query_labels.size()) == knn.num_queries, query_labels.size(), " query labels for ",
             knn.num_queries, " queries");
  for (int32_t g : knn.indices)
    SGML_CHECK(g >= 0 && size_t(g) < gallery_labels.size(), "result index ", g, " outside the ",
               gallery_labels.size(), " gallery labels");
}

Tensor on_device(const Tensor& t, Device device) { return t.device() == device ? t : t.to(device); }

RetrievalMetrics evaluate(const Tensor& query_features, const std::vector<int64_t>& query_labels,
                          const Tensor& gallery_features, const std::vector<int64_t>& gallery_labels,
                          const std::vector<int>& ks, Device device, const EvalOptions& options, bool leave_one_out) {
  check_defined(query_features, "evaluation queries");
  check_defined(gallery_features, "evaluation gallery");
  SGML_CHECK(query_features.ndim() == 2 && int64_t(query_labels.size()) == query_features.dim(0),
             "query features ", shape_str(query_features.shape()), " with ", query_labels.size(), " labels");
  SGML_CHECK(gallery_features.ndim() == 2 && int64_t(gallery_labels.size()) == gallery_features.dim(0),
             "gallery features ", shape_str(gallery_features.shape()), " with ", gallery_labels.size(), " labels");
  SGML_CHECK(!ks.empty(), "no K given for Recall@K");
  for (int k : ks) SGML_CHECK(k >= 1, "Recall@K needs K >= 1, got ", k);

  RetrievalMetrics m;
  m.leave_one_out = leave_one_out;
  m.num_queries = query_features.dim(0);
  m.num_gallery = gallery_features.dim(0);
  const std::vector<int64_t> relevant = relevant_counts(query_labels, gallery_labels, leave_one_out);
  m.queries_without_match = std::count(relevant.begin(), relevant.end(), 0);
  const int64_t candidates = m.candidates();
  const int64_t largest_r = relevant.empty() ? 0 : *std::max_element(relevant.begin(), relevant.end());
  const int64_t wanted = std::max<int64_t>(*std::max_element(ks.begin(), ks.end()), largest_r);
  const int k_search = int(std::min(wanted, candidates));

  const Tensor queries = on_device(query_features, device);
  const Tensor gallery = leave_one_out ? queries : on_device(gallery_features, device);
  m.neighbours = knn_search(queries, gallery, k_search, {leave_one_out, options.block_rows});
  for (int k : ks) m.recall[k] = recall_at_k(m.neighbours, query_labels, gallery_labels, std::min(k, k_search));
  m.map_at_r = map_at_r(m.neighbours, query_labels, gallery_labels, leave_one_out);

  if (options.compute_nmi) {
    if (leave_one_out) {
      m.nmi = clustering_nmi(queries, query_labels, options.kmeans_seed, options.kmeans_restarts);
    } else {  // the whole test split: queries then gallery
      const int64_t d = queries.dim(1);
      Tensor all = Tensor::empty({m.num_queries + m.num_gallery, d}, device);
      all.view(0, queries.shape()).copy_from(queries);
      all.view(m.num_queries * d, gallery.shape()).copy_from(gallery);
      std::vector<int64_t> labels(query_labels);
      labels.insert(labels.end(), gallery_labels.begin(), gallery_labels.end());
      m.nmi = clustering_nmi(all, labels, options.kmeans_seed, options.kmeans_restarts);
    }
  }
  return m;
}

}  // namespace

double recall_at_k(const KnnResult& knn, const std::vector<int64_t>& query_labels,
                   const std::vector<int64_t>& gallery_labels, int k) {
  check_labels(knn, query_labels, gallery_labels);
  SGML_CHECK(k >= 1 && k <= knn.k, "Recall@", k, " from top-", knn.k, " lists");
  if (knn.num_queries == 0) return 0.0;
  int64_t hits = 0;
  for (int64_t q = 0; q < knn.num_queries; ++q)
    for (int r = 0; r < k; ++r)
      if (gallery_labels[knn.index(q, r)] == query_labels[q]) {
        ++hits;
        break;
      }
  return double(hits) / double(knn.num_queries);
}

std::vector<int64_t> relevant_counts(const std::vector<int64_t>& query_labels,
                                     const std::vector<int64_t>& gallery_labels, bool leave_one_out) {
  std::unordered_map<int64_t, int64_t> per_label;
  for (int64_t g : gallery_labels) ++per_label[g];
  std::vector<int64_t> r(query_labels.size());
  for (size_t q = 0; q < query_labels.size(); ++q) {
    const auto it = per_label.find(query_labels[q]);
    r[q] = (it == per_label.end() ? 0 : it->second) - (leave_one_out ? 1 : 0);
  }
  return r;
}

double map_at_r(const KnnResult& knn, const std::vector<int64_t>& query_labels,
                const std::vector<int64_t>& gallery_labels, bool leave_one_out) {
  check_labels(knn, query_labels, gallery_labels);
  const std::vector<int64_t> relevant = relevant_counts(query_labels, gallery_labels, leave_one_out);
  if (knn.num_queries == 0) return 0.0;
  double total = 0;
  for (int64_t q = 0; q < knn.num_queries; ++q) {
    const int64_t r = relevant[q];
    if (r == 0) continue;  // nothing to retrieve: AP 0
    SGML_CHECK(r <= knn.k, "MAP@R needs the top ", r, " results of query ", q, ", the lists hold ", knn.k);
    double precision_sum = 0;
    int64_t found = 0;
    for (int64_t i = 0; i < r; ++i)
      if (gallery_labels[knn.index(q, int(i))] == query_labels[q]) precision_sum += double(++found) / double(i + 1);
    total += precision_sum / double(r);
  }
  return total / double(knn.num_queries);
}

double clustering_nmi(const Tensor& features, const std::vector<int64_t>& labels, uint64_t seed, int restarts) {
  check_defined(features, "clustering features");
  SGML_CHECK(features.ndim() == 2 && int64_t(labels.size()) == features.dim(0), "clustering features ",
             shape_str(features.shape()), " with ", labels.size(), " labels");
  if (labels.empty()) return 1.0;  // as normalized_mutual_info_score of two empty labellings
  const Tensor normalised = l2_normalize_forward(features).y;
  const int classes = int(std::set<int64_t>(labels.begin(), labels.end()).size());
  KMeansOptions options;
  options.seed = seed;
  options.restarts = restarts;
  const KMeansResult clusters = kmeans(normalised, classes, options);
  return normalized_mutual_info(labels, std::vector<int64_t>(clusters.assignment.begin(), clusters.assignment.end()));
}

RetrievalMetrics evaluate_retrieval(const Tensor& query_features, const std::vector<int64_t>& query_labels,
                                    const Tensor& gallery_features, const std::vector<int64_t>& gallery_labels,
                                    const std::vector<int>& ks, Device device, const EvalOptions& options) {
  return evaluate(query_features, query_labels, gallery_features, gallery_labels, ks, device, options, false);
}

RetrievalMetrics evaluate_leave_one_out(const Tensor& features, const std::vector<int64_t>& labels,
                                        const std::vector<int>& ks, Device device, const EvalOptions& options) {
  return evaluate(features, labels, features, labels, ks, device, options, true);
}

nlohmann::json RetrievalMetrics::to_json() const {
  nlohmann::json j;
  for (const auto& [k, value] : recall) j["recall@" + std::to_string(k)] = value;
  j["map@r"] = map_at_r;
  if (nmi) j["nmi"] = *nmi;
  j["num_queries"] = num_queries;
  j["num_gallery"] = num_gallery;
  j["queries_without_match"] = queries_without_match;
  j["protocol"] = leave_one_out ? "leave-one-out" : "query-gallery";
  return j;
}

}  // namespace sgml
