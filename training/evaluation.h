// Evaluating a model on a dataset's test protocol: features of every test image (training/feature_extraction.h:
// the evaluation transform, the decoded-image cache when `sgml prepare` made one at the image size), then
// retrieval metrics: In-shop queries against the gallery (K = 1, 10, 20, 30, 40, 50), CUB leave-one-out over the
// test set (K = 1, 2, 4, 8, 16, 32), SOP and Cars196 leave-one-out (K = 1, 10, 100, 1000 and K = 1, 2, 4, 8),
// MAP@R and optionally NMI.
//
// With skip_bad_images, an unreadable image is dropped from both sides of the ranking: it is neither a query nor a
// candidate, and the metrics are those of the remaining images (as if its line were not in the list files).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "models/sgml_model.h"
#include "retrieval/metrics.h"
#include "training/feature_extraction.h"

namespace sgml {

struct EvaluationSettings : FeatureExtractionSettings {
  bool compute_nmi = true;
  std::vector<int> ks;  // empty: the dataset's standard K
};

struct Evaluation {
  RetrievalMetrics metrics;
  Tensor query_features, gallery_features;  // gallery undefined for leave-one-out
  std::vector<const ImageRecord*> queries, gallery;  // the images ranked (rows of the features), in list order
  std::vector<std::string> dropped;                  // unreadable images left out of the ranking (skip_bad_images)
  int images_dropped() const { return int(dropped.size()); }
  // The metrics' JSON (retrieval/metrics.h) with "images_dropped".
  nlohmann::json to_json() const;
  // A note per K beyond the images each query is ranked against (such a Recall@K counts them all: said, lest its
  // figure be read as the model's); none when every K fits.
  std::vector<std::string> recall_notes() const;
};

std::vector<int> default_ks(const Dataset& dataset);

// The decoded-image cache that evaluation reads (`sgml prepare` at settings.image_size, matching the dataset and
// usable with the evaluation transform), or null: the image files. Chosen once for `sgml eval` and once for all of a
// run's evaluations, as finding it checks every image file's size and modification time. *note: "decoded-image
// cache: PATH", or why a present one is not used, or "".
std::shared_ptr<const ImageCache> evaluation_cache(const Dataset& dataset, const EvaluationSettings& settings,
                                                   std::string* note);
// cache: from evaluation_cache, or null to decode every image file.
Evaluation evaluate_model(SgmlModel& model, const Dataset& dataset, const EvaluationSettings& settings,
                          const std::shared_ptr<const ImageCache>& cache);

}  // namespace sgml
