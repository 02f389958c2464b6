#include "training/evaluation.h"

#include "data/image_cache.h"
#include "data/loader.h"
#include "engine/check.h"

namespace sgml {

namespace {

// The features of `images` with the records and labels of the rows that loaded; dropped paths go to *dropped.
struct RankedSide {
  Tensor features;  // (N', D)
  std::vector<const ImageRecord*> records;
  std::vector<int64_t> labels;
};

RankedSide extract_side(SgmlModel& model, const std::vector<ImageRecord>& images, const EvaluationSettings& s,
                        const std::shared_ptr<const ImageCache>& cache, std::vector<std::string>* dropped) {
  ExtractedFeatures f = extract_features(model, images, s, cache);
  RankedSide side;
  side.features = f.features;
  for (int i : f.kept) {
    side.records.push_back(&images[size_t(i)]);
    side.labels.push_back(images[size_t(i)].label);
  }
  dropped->insert(dropped->end(), f.dropped.begin(), f.dropped.end());
  return side;
}

}  // namespace

nlohmann::json Evaluation::to_json() const {
  nlohmann::json j = metrics.to_json();
  j["images_dropped"] = images_dropped();
  return j;
}

std::vector<int> default_ks(const Dataset& dataset) {
  if (dataset.kind == "sop") return {1, 10, 100, 1000};  // the SOP protocol (Oh Song et al. 2016)
  if (dataset.kind == "cars") return {1, 2, 4, 8};
  if (dataset.query_gallery()) return {1, 10, 20, 30, 40, 50};
  return {1, 2, 4, 8, 16, 32};
}

std::vector<std::string> Evaluation::recall_notes() const {
  std::vector<std::string> notes;
  const int64_t candidates = metrics.candidates();
  for (const auto& [k, r] : metrics.recall)
    if (k > candidates)
      notes.push_back(str_cat("note: Recall@", k, " counts all ", candidates,
                              " images each query is ranked against: it is Recall@", candidates));
  return notes;
}

std::shared_ptr<const ImageCache> evaluation_cache(const Dataset& dataset, const EvaluationSettings& s,
                                                   std::string* note) {
  LoaderConfig transform;  // the evaluation transform (no augmentation)
  transform.eval_resize = s.eval_resize;
  return cache_for_transform(dataset, s.image_size, transform, note);
}

Evaluation evaluate_model(SgmlModel& model, const Dataset& dataset, const EvaluationSettings& s,
                          const std::shared_ptr<const ImageCache>& cache) {
  Evaluation e;
  const std::vector<int> ks = s.ks.empty() ? default_ks(dataset) : s.ks;
  EvalOptions options;
  options.compute_nmi = s.compute_nmi;
  if (dataset.query_gallery()) {
    SGML_CHECK(!dataset.gallery.empty(), "the dataset has queries but no gallery images");
    const RankedSide q = extract_side(model, dataset.query, s, cache, &e.dropped);
    const RankedSide g = extract_side(model, dataset.gallery, s, cache, &e.dropped);
    SGML_CHECK(!q.records.empty() && !g.records.empty(), "no readable ", q.records.empty() ? "query" : "gallery",
               " image is left to evaluate (", e.dropped.size(), " unreadable images dropped)");
    e.metrics = evaluate_retrieval(q.features, q.labels, g.features, g.labels, ks, model.device(), options);
    e.query_features = q.features;
    e.gallery_features = g.features;
    e.queries = q.records;
    e.gallery = g.records;
  } else {
    SGML_CHECK(dataset.test.size() >= 2, "the dataset has fewer than 2 test images");
    const RankedSide t = extract_side(model, dataset.test, s, cache, &e.dropped);
    SGML_CHECK(t.records.size() >= 2, "fewer than 2 readable test images are left to evaluate (", e.dropped.size(),
               " unreadable images dropped)");
    e.metrics = evaluate_leave_one_out(t.features, t.labels, ks, model.device(), options);
    e.query_features = t.features;
    e.queries = t.records;
    e.gallery = t.records;
  }
  return e;
}

}  // namespace sgml
