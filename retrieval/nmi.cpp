#include "retrieval/nmi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "engine/check.h"

namespace sgml {

namespace {

// Dense ids 0..groups-1 for arbitrary labels.
std::vector<int64_t> dense_ids(const std::vector<int64_t>& labels, int64_t& groups) {
  std::unordered_map<int64_t, int64_t> id;
  std::vector<int64_t> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) out[i] = id.emplace(labels[i], int64_t(id.size())).first->second;
  groups = int64_t(id.size());
  return out;
}

// Entropy (nats) of a labelling from its group sizes.
double entropy(const std::vector<int64_t>& counts, double n) {
  double h = 0;
  for (int64_t c : counts)
    if (c > 0) h -= (c / n) * std::log(c / n);
  return h;
}

}  // namespace

double normalized_mutual_info(const std::vector<int64_t>& labels_true, const std::vector<int64_t>& labels_pred) {
  SGML_CHECK(labels_true.size() == labels_pred.size(), "NMI of labellings of ", labels_true.size(), " and ",
             labels_pred.size(), " items");
  int64_t classes = 0, clusters = 0;
  const std::vector<int64_t> a = dense_ids(labels_true, classes), b = dense_ids(labels_pred, clusters);
  if (classes == clusters && classes <= 1) return 1.0;  // nothing is split: a perfect match
  const double n = double(a.size());
  std::vector<int64_t> class_size(size_t(classes), 0), cluster_size(size_t(clusters), 0);
  std::map<std::pair<int64_t, int64_t>, int64_t> joint;  // the sparse contingency table
  for (size_t i = 0; i < a.size(); ++i) {
    ++class_size[a[i]];
    ++cluster_size[b[i]];
    ++joint[{a[i], b[i]}];
  }
  double mi = 0;
  for (const auto& [cell, count] : joint)
    mi += (count / n) * std::log(n * count / (double(class_size[cell.first]) * cluster_size[cell.second]));
  mi = std::max(mi, 0.0);
  if (mi == 0.0) return 0.0;
  const double normaliser = (entropy(class_size, n) + entropy(cluster_size, n)) / 2.0;
  return mi / std::max(normaliser, std::numeric_limits<double>::epsilon());
}

}  // namespace sgml
