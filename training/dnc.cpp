#include "training/dnc.h"

#include <algorithm>
#include <cmath>

#include "data/samplers.h"
#include "engine/check.h"
#include "retrieval/hungarian.h"
#include "retrieval/kmeans.h"

namespace sgml {

std::vector<std::string> dnc_schedule_notes(const TrainConfig& c) {
  std::vector<std::string> notes;
  if (c.method != "dnc" || c.learners < 2 || c.steps > 0) return notes;
  const int full = c.full_embedding_epoch, finetune = c.finetune_epoch;
  if (full > 0 && finetune > 0 && finetune <= full)
    notes.push_back(
        str_cat("note: --finetune-epoch ", finetune, " is not after --full-embedding-epoch ", full,
                ": fine-tuning starts first, and no epoch trains the whole embedding on clusters' batches"));
  else if (full >= c.epochs)
    notes.push_back(str_cat("note: --full-embedding-epoch ", full, " is not below --epochs ", c.epochs,
                            ": no epoch of this run trains the whole embedding on clusters' batches"));
  if (finetune >= c.epochs)
    notes.push_back(str_cat("note: --finetune-epoch ", finetune, " is not below --epochs ", c.epochs,
                            ": this run never fine-tunes on all the images"));
  return notes;
}

DncPhase dnc_phase(const TrainConfig& c, int epoch) {
  DncPhase p;
  if (c.method != "dnc") return p;
  // The authors count epochs from 0 and switch at e >= 80 and e >= 190: after that many epochs, so from our 1-based
  // epoch E + 1 on. One learner is the plain margin-loss baseline: no clusters at all.
  p.clustered = c.learners > 1 && (c.finetune_epoch == 0 || epoch <= c.finetune_epoch);
  p.full_embedding = !p.clustered || (c.full_embedding_epoch > 0 && epoch > c.full_embedding_epoch);
  if (!p.clustered) return p;
  const bool hierarchical = c.division == "hierarchical";
  p.clustering_epoch = epoch - (epoch - 1) % c.recluster_every;
  int last = 0;  // --stop-reclustering: the first clustering (flat), or the one that reaches K (hierarchical)
  if (c.stop_reclustering) {
    last = 1;
    for (int k = 1; hierarchical && k < c.learners; k *= 2) last += c.recluster_every;
    p.clustering_epoch = std::min(p.clustering_epoch, last);
  }
  p.backbone_frozen = epoch - p.clustering_epoch < c.freeze_backbone_epochs;
  // The authors check for the stop at each epoch's start, after the last clustering's first epoch: a flat run's
  // first clustering keeps its frozen epochs, the hierarchy's last one only its own first epoch.
  if (last > 0 && hierarchical && epoch > last) p.backbone_frozen = false;
  if (!hierarchical) {
    p.learners = p.clustered_into = c.learners;
    return p;
  }
  // The re-clustering's index i: 1 learner at i = 0, then twice as many at each, up to K.
  const int clustering = (p.clustering_epoch - 1) / c.recluster_every;
  auto learners_at = [&](int i) {
    int k = 1;
    for (int j = 0; j < i && k < c.learners; ++j) k *= 2;
    return k;
  };
  p.learners = learners_at(clustering);
  p.clustered_into = clustering == 0 ? 1 : learners_at(clustering - 1);
  return p;
}

ClusterMatch match_clusters(const std::vector<int>& previous, const std::vector<int>& fresh, int k) {
  SGML_CHECK(previous.size() == fresh.size(), "match_clusters: ", previous.size(), " and ", fresh.size(), " images");
  SGML_CHECK(k >= 1, "match_clusters: ", k, " clusters");
  std::vector<double> size_a(size_t(k), 0), size_b(size_t(k), 0), both(size_t(k) * k, 0);
  for (size_t i = 0; i < fresh.size(); ++i) {
    const int a = previous[i], b = fresh[i];
    SGML_CHECK(a >= -1 && a < k && b >= -1 && b < k, "match_clusters: image ", i, " in clusters ", a, " and ", b);
    if (a >= 0) ++size_a[size_t(a)];
    if (b >= 0) ++size_b[size_t(b)];
    if (a >= 0 && b >= 0) ++both[size_t(a) * k + b];
  }
  std::vector<double> cost(size_t(k) * k);
  for (int a = 0; a < k; ++a)
    for (int b = 0; b < k; ++b)
      cost[size_t(a) * k + b] = size_a[size_t(a)] + size_b[size_t(b)] - 2 * both[size_t(a) * k + b];
  const Assignment match = linear_sum_assignment(cost, k, k);
  std::vector<int> label_of_fresh(size_t(k), -1);
  for (size_t t = 0; t < match.rows.size(); ++t) label_of_fresh[size_t(match.cols[t])] = match.rows[t];
  ClusterMatch out;
  out.cost = match.cost;
  out.clusters.reserve(fresh.size());
  for (int b : fresh) out.clusters.push_back(b < 0 ? -1 : label_of_fresh[size_t(b)]);
  return out;
}

Clustering cluster_features(const Tensor& features, int k, uint64_t seed, Device device) {
  SGML_CHECK(features.ndim() == 2 && features.dim(0) >= k, "k-means of ", shape_str(features.shape()),
             " features into ", k, " clusters: fewer images than clusters");
  Tensor x = features.is_cuda() ? features.to(Device::cpu()) : features.clone();
  const int64_t n = x.dim(0), d = x.dim(1);
  float* p = x.data();
  for (int64_t r = 0; r < n; ++r) {  // L2-normalise each row (a zero row stays zero)
    double norm = 0;
    for (int64_t c = 0; c < d; ++c) norm += double(p[r * d + c]) * p[r * d + c];
    const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
    for (int64_t c = 0; c < d; ++c) p[r * d + c] *= inv;
  }
  KMeansOptions options;
  options.seed = seed;
  options.max_iterations = 100;
  const KMeansResult r = kmeans(device.is_cuda() ? x.to(device) : x, k, options);  // explicit host-to-device copy
  return {std::vector<int>(r.assignment.begin(), r.assignment.end()), r.inertia, r.iterations};
}

Division divide_clusters(const Tensor& features, const std::vector<int>& clusters, const std::vector<int>& labels,
                         int k, uint64_t seed, Device device, int max_trials) {
  SGML_CHECK(features.ndim() == 2 && int64_t(clusters.size()) == features.dim(0) && labels.size() == clusters.size(),
             "divide_clusters: ", clusters.size(), " clusters and ", labels.size(), " labels for features ",
             shape_str(features.shape()));
  SGML_CHECK(k >= 1 && max_trials >= 1, "divide_clusters: ", k, " clusters, ", max_trials, " trials");
  const Tensor host = features.is_cuda() ? features.to(Device::cpu()) : features;
  const int64_t d = host.dim(1);
  Division out;
  out.clusters.assign(clusters.size(), -1);
  out.trials.assign(size_t(k), 0);
  for (int c = 0; c < k; ++c) {
    std::vector<int> members;
    for (size_t r = 0; r < clusters.size(); ++r)
      if (clusters[r] == c) members.push_back(int(r));
    for (int r : members) out.clusters[size_t(r)] = 2 * c;
    if (members.size() < 2) continue;
    Tensor x = Tensor::empty({int64_t(members.size()), d});
    for (size_t i = 0; i < members.size(); ++i)
      std::copy_n(host.data() + int64_t(members[i]) * d, d, x.data() + int64_t(i) * d);
    for (int t = 0; t < max_trials; ++t) {
      const Clustering halves = cluster_features(x, 2, seed * 1000003ull + uint64_t(c) * 7919ull + uint64_t(t), device);
      std::vector<int> half_labels[2];
      for (size_t i = 0; i < members.size(); ++i) {
        half_labels[halves.clusters[i]].push_back(labels[size_t(members[i])]);
        out.clusters[size_t(members[i])] = 2 * c + halves.clusters[i];
      }
      out.trials[size_t(c)] = t + 1;
      if (classes_with_pairs(half_labels[0]) >= 2 && classes_with_pairs(half_labels[1]) >= 2) break;
    }
  }
  return out;
}

}  // namespace sgml
