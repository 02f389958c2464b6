#include "training/evaluation.h"

#include <algorithm>
#include <thread>

#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/random_stream.h"
#include "data/worker_errors.h"
#include "engine/check.h"

namespace sgml {

namespace {

// Decodes and transforms images [start, start + count) into `input` (count, 3, S, S) on `threads` OpenMP threads.
// Nothing escapes the parallel region (an exception leaving it aborts the process): every failure is recorded
// for its position, and the row of a failed image is zeroed. Returns the error of each position ("" when loaded).
std::vector<std::string> decode_batch(float* input, const std::vector<ImageRecord>& images, int64_t start,
                                      int64_t count, int size, int threads) {
  std::vector<std::string> errors(static_cast<size_t>(count));
  const size_t row = 3 * size_t(size) * size_t(size);
#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (int64_t i = 0; i < count; ++i) {
    const ImageRecord& r = images[size_t(start + i)];
    float* out = input + size_t(i) * row;
    try {
      transform_image(out, decode_image_file(r.path), r.box, size, Augmentation{});
    } catch (...) {  // every failure of one image (bad bytes, a directory, no permission, missing) is its error
      std::fill(out, out + row, 0.0f);
      record_image_error(errors[size_t(i)], r.path);
    }
  }
  return errors;
}

}  // namespace

Tensor extract_features(SgmlModel& model, const std::vector<ImageRecord>& images, const EvaluationSettings& s,
                        int* bad_images) {
  SGML_CHECK(s.batch_size >= 1, "evaluation batch size must be positive, not ", s.batch_size);
  SGML_CHECK(s.image_size >= 1, "evaluation image size must be positive, not ", s.image_size);
  const int64_t n = int64_t(images.size()), dim = model.feature_dim(s.feature), size = s.image_size;
  Tensor features = Tensor::empty({n, dim});
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  int bad = 0;
  for (int64_t start = 0; start < n; start += s.batch_size) {
    const int64_t count = std::min<int64_t>(s.batch_size, n - start);
    // No more threads than images: a huge --workers must not ask the OpenMP runtime for threads it cannot create.
    const int threads = int(std::min<int64_t>(s.workers > 0 ? s.workers : cores, count));
    Tensor input = Tensor::empty({count, 3, size, size});
    const std::vector<std::string> errors = decode_batch(input.data(), images, start, count, int(size), threads);
    const std::string first = first_error(errors);
    if (!first.empty() && !s.skip_bad_images) SGML_FAIL(first, s.bad_image_hint);
    Tensor f = model.extract(model.device().is_cuda() ? input.to(model.device()) : input, s.feature);
    Tensor host = f.is_cuda() ? f.to(Device::cpu()) : f;
    for (int64_t i = 0; i < count; ++i) {
      if (errors[size_t(i)].empty()) continue;
      float* row = host.data() + i * dim;
      std::fill(row, row + dim, 0.0f);
      ++bad;
    }
    features.view(start * dim, {count, dim}).copy_from(host);
  }
  if (bad_images) *bad_images += bad;
  return features;
}

std::vector<int> default_ks(const Dataset& dataset) {
  if (dataset.kind == "sop") return {1, 10, 100, 1000};  // the SOP protocol (Oh Song et al. 2016)
  if (dataset.kind == "cars") return {1, 2, 4, 8};
  if (dataset.query_gallery()) return {1, 10, 20, 30, 40, 50};
  return {1, 2, 4, 8, 16, 32};
}

Evaluation evaluate_model(SgmlModel& model, const Dataset& dataset, const EvaluationSettings& s) {
  Evaluation e;
  const std::vector<int> ks = s.ks.empty() ? default_ks(dataset) : s.ks;
  EvalOptions options;
  options.compute_nmi = s.compute_nmi;
  auto labels_of = [](const std::vector<ImageRecord>& images) {
    std::vector<int64_t> labels;
    for (const auto& r : images) labels.push_back(r.label);
    return labels;
  };
  if (dataset.query_gallery()) {
    SGML_CHECK(!dataset.gallery.empty(), "the dataset has queries but no gallery images");
    e.query_features = extract_features(model, dataset.query, s, &e.bad_images);
    e.gallery_features = extract_features(model, dataset.gallery, s, &e.bad_images);
    e.metrics = evaluate_retrieval(e.query_features, labels_of(dataset.query), e.gallery_features,
                                   labels_of(dataset.gallery), ks, model.device(), options);
    for (const auto& r : dataset.query) e.queries.push_back(&r);
    for (const auto& r : dataset.gallery) e.gallery.push_back(&r);
  } else {
    SGML_CHECK(dataset.test.size() >= 2, "the dataset has fewer than 2 test images");
    e.query_features = extract_features(model, dataset.test, s, &e.bad_images);
    e.metrics = evaluate_leave_one_out(e.query_features, labels_of(dataset.test), ks, model.device(), options);
    for (const auto& r : dataset.test) e.queries.push_back(&r);
    e.gallery = e.queries;
  }
  return e;
}

}  // namespace sgml
