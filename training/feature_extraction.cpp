#include "training/feature_extraction.h"

#include <algorithm>
#include <thread>

#include "data/image_cache.h"
#include "data/loader.h"
#include "data/samplers.h"
#include "engine/check.h"
#include "training/interrupt.h"

namespace sgml {

std::vector<ImageRecord> image_records(const std::vector<std::string>& paths) {
  std::vector<ImageRecord> out(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) out[i].path = paths[i];
  return out;
}

ExtractedFeatures extract_features(SgmlModel& model, const std::vector<ImageRecord>& images,
                                   const FeatureExtractionSettings& s, std::shared_ptr<const ImageCache> cache) {
  SGML_CHECK(s.batch_size >= 1, "evaluation batch size must be positive, not ", s.batch_size);
  SGML_CHECK(s.image_size >= 1, "evaluation image size must be positive, not ", s.image_size);
  const int n = int(images.size());
  const int64_t dim = model.feature_dim(s.feature);
  ExtractedFeatures out;
  Tensor features = Tensor::empty({n, dim});
  int64_t rows = 0;
  if (n > 0) {
    const SequentialBatches order(n, s.batch_size);
    LoaderConfig c;
    c.image_size = s.image_size;
    c.augment = false;
    c.eval_resize = s.eval_resize;
    // No more threads than images: a huge --workers must not ask the system for threads it cannot create.
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    c.workers = std::min(s.workers > 0 ? s.workers : cores, n);
    c.on_bad_image = s.skip_bad_images ? BadImagePolicy::Drop : BadImagePolicy::Fail;
    c.bad_image_hint = s.bad_image_hint;
    static const std::vector<std::vector<float>> no_attributes;  // features need no attribute targets
    Loader loader(images, no_attributes, 0, [&order](int64_t step) { return order.batch(step); }, c, std::move(cache));
    const Device device = model.device();
    for (Batch b = loader.next(); b.step >= 0; b = loader.next()) {
      throw_if_interrupted();       // a training run's evaluation or re-clustering stops at SIGINT/SIGTERM
      if (b.size() == 0) continue;  // every image of this batch was dropped
      const Tensor f = model.extract(device.is_cuda() ? b.images.to(device) : b.images, s.feature);
      features.view(rows * dim, {b.size(), dim}).copy_from(f.is_cuda() ? f.to(Device::cpu()) : f);
      rows += b.size();
      out.kept.insert(out.kept.end(), b.indices.begin(), b.indices.end());
    }
  }
  if (rows == n) {
    out.features = features;
    return out;
  }
  out.features = Tensor::empty({rows, dim});
  if (rows > 0) out.features.copy_from(features.view(0, {rows, dim}));
  std::vector<uint8_t> is_kept(size_t(n), 0);
  for (int i : out.kept) is_kept[size_t(i)] = 1;
  for (int i = 0; i < n; ++i)
    if (!is_kept[size_t(i)]) out.dropped.push_back(images[size_t(i)].path);
  return out;
}

}  // namespace sgml
