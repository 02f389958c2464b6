#include "training/evaluation.h"

#include <atomic>
#include <thread>

#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/random_stream.h"
#include "engine/check.h"

namespace sgml {

Tensor extract_features(SgmlModel& model, const std::vector<ImageRecord>& images, const EvaluationSettings& s,
                        int* bad_images) {
  const int64_t n = int64_t(images.size()), dim = model.feature_dim(s.feature), size = s.image_size;
  Tensor features = Tensor::empty({n, dim});
  const int threads = s.workers > 0 ? s.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<int> bad{0};
  for (int64_t start = 0; start < n; start += s.batch_size) {
    const int64_t count = std::min<int64_t>(s.batch_size, n - start);
    Tensor input = Tensor::empty({count, 3, size, size});
    std::vector<uint8_t> ok(count, 1);
    std::string first_error;
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (int64_t i = 0; i < count; ++i) {
      float* out = input.data() + i * 3 * size * size;
      try {
        transform_image(out, decode_image_file(images[start + i].path), images[start + i].box, int(size), Augmentation{});
      } catch (const Error& e) {
        ok[i] = 0;
        std::fill(out, out + 3 * size * size, 0.0f);
#pragma omp critical
        if (first_error.empty()) first_error = e.what();
      }
    }
    if (!first_error.empty() && !s.skip_bad_images)
      SGML_FAIL(first_error, " (use --skip-bad-images to skip unreadable images)");
    Tensor f = model.extract(model.device().is_cuda() ? input.to(model.device()) : input, s.feature);
    Tensor host = f.is_cuda() ? f.to(Device::cpu()) : f;
    for (int64_t i = 0; i < count; ++i) {
      float* row = host.data() + i * dim;
      if (!ok[i]) {
        std::fill(row, row + dim, 0.0f);
        ++bad;
      }
    }
    features.view(start * dim, {count, dim}).copy_from(host);
  }
  if (bad_images) *bad_images += bad;
  return features;
}

std::vector<int> default_ks(const Dataset& dataset) {
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
