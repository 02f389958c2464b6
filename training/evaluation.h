// Evaluating a model on a dataset's test protocol: features of every test image with the evaluation transform
// (eval mode, no tape), then retrieval metrics: In-shop queries against the gallery (K = 1, 10, 20, 30, 40, 50),
// CUB leave-one-out over the test set (K = 1, 2, 4, 8, 16, 32), SOP and Cars196 leave-one-out (K = 1, 10, 100, 1000
// and K = 1, 2, 4, 8), MAP@R and optionally NMI.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/sgml_model.h"
#include "retrieval/metrics.h"

namespace sgml {

struct EvaluationSettings {
  int image_size = 224;
  FeatureKind feature = FeatureKind::Emb;
  int batch_size = 64;
  int workers = 0;           // decoding threads (0: all cores)
  bool skip_bad_images = false;
  std::string bad_image_hint = " (use --skip-bad-images to skip unreadable images)";  // appended to a bad image's error
  bool compute_nmi = true;
  std::vector<int> ks;       // empty: the dataset's standard K
};

// Features (N, D) on the host of `images`, in order. Unreadable images (whatever fails to load: bad bytes, a
// directory, no permission, missing) are errors naming the file (the first by position) unless skip_bad_images,
// when they get zero features and are counted in *bad_images. No exception escapes the decoding threads.
Tensor extract_features(SgmlModel& model, const std::vector<ImageRecord>& images, const EvaluationSettings& settings,
                        int* bad_images = nullptr);

struct Evaluation {
  RetrievalMetrics metrics;
  Tensor query_features, gallery_features;  // gallery undefined for leave-one-out
  std::vector<const ImageRecord*> queries, gallery;
  int bad_images = 0;
};

std::vector<int> default_ks(const Dataset& dataset);
Evaluation evaluate_model(SgmlModel& model, const Dataset& dataset, const EvaluationSettings& settings);

}  // namespace sgml
