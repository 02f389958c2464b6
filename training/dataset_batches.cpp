#include "training/dataset_batches.h"

#include <cstdio>

#include "data/file_stamps.h"
#include "data/loader.h"
#include "engine/check.h"
#include "training/feature_extraction.h"

namespace sgml {

TrainingStreamConfig DatasetBatchSource::stream_config(const TrainConfig& c) {
  TrainingStreamConfig s;
  s.image_wise = c.sampling == Sampling::ImageWise;
  s.classes_per_batch = c.classes_per_batch;
  s.images_per_class = c.images_per_class;
  s.class_balance = parse_class_balance(c.class_balance);
  s.triplets_per_batch = c.triplets_per_batch;
  s.batch_plan = c.batch_plan;
  s.image_size = c.image_size;
  s.augment = c.augment;
  s.train_crop = parse_train_crop(c.train_crop);
  s.eval_resize = c.eval_resize;
  s.seed = c.seed;
  s.workers = c.workers;
  s.skip_bad_images = c.skip_bad_images;
  s.dnc_epoch_length = parse_batches_per_epoch(c.batches_per_epoch);
  return s;
}

DatasetBatchSource::DatasetBatchSource(const Dataset& dataset, const TrainConfig& config)
    : dataset_(dataset),
      config_(config),
      stream_(dataset, stream_config(config)),
      num_attributes_(dataset.num_attributes()),
      num_classes_(dataset.num_train_classes()) {}

namespace {

// FNV-1a, 64 bits, over whole strings.
class Fingerprint {
 public:
  void mix(const std::string& bytes) {
    for (unsigned char c : bytes) hash_ = (hash_ ^ c) * 1099511628211ull;
    hash_ = (hash_ ^ 0xffu) * 1099511628211ull;  // a separator no path holds
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash_));
    return text;
  }

 private:
  uint64_t hash_ = 14695981039346656037ull;
};

// Floats as their shortest exact text (%.9g round-trips a float).
std::string box_text(const BoundingBox& b) {
  if (!b.valid()) return "-";
  char text[80];
  std::snprintf(text, sizeof text, "%.9g %.9g %.9g %.9g", b.x, b.y, b.width, b.height);
  return text;
}

// Paths below the dataset's folder, classes and boxes of the evaluation's lists, each list named.
// "list L, boxes B": the evaluation's lists (each named: paths below the dataset's folder, classes) and their
// boxes, apart, so that a message shows which changed.
std::string evaluation_fingerprint(const Dataset& d) {
  Fingerprint list, boxes;
  for (const auto& [name, records] : {std::pair<const char*, const std::vector<ImageRecord>*>{"test", &d.test},
                                      {"query", &d.query},
                                      {"gallery", &d.gallery}}) {
    list.mix(name);
    for (const ImageRecord& r : *records) {
      list.mix(path_below_root(r.path, d.root));
      list.mix(std::to_string(r.label));
      boxes.mix(box_text(r.box));
    }
  }
  return str_cat("list ", list.hex(), ", boxes ", boxes.hex());
}

// "stamps S": the files' sizes and modification times (data/file_stamps.h); "-" for one that cannot be read.
std::string files_fingerprint(const std::vector<const std::vector<ImageRecord>*>& lists) {
  std::vector<std::string> paths;
  for (const std::vector<ImageRecord>* records : lists)
    for (const ImageRecord& r : *records) paths.push_back(r.path);
  Fingerprint files;
  for (const std::optional<FileStamp>& s : file_stamps(paths))
    files.mix(s ? str_cat(s->bytes, " ", s->modified_ns) : std::string("-"));  // "-": unreadable (a cache serves it)
  return "stamps " + files.hex();
}

}  // namespace

DataDescription DatasetBatchSource::data_description() const {
  DataDescription out;
  Fingerprint images, boxes;  // the images' list as before boxes were kept, so that those checkpoints still match
  int64_t cropped = 0;
  for (const ImageRecord& r : dataset_.train) {
    images.mix(path_below_root(r.path, dataset_.root));
    images.mix(std::to_string(r.label));
    boxes.mix(box_text(r.box));
    cropped += r.box.valid();
  }
  out.training =
      str_cat(dataset_.train.size(), " images of ", dataset_.num_train_classes(), " classes, list ", images.hex());
  out.training_boxes = cropped == 0 ? "none" : str_cat(cropped, " boxes, list ", boxes.hex());
  out.training_files = files_fingerprint({&dataset_.train});
  // The feature evaluated is part of what the run's evaluations compare.
  out.evaluation = str_cat(dataset_.query_gallery() ? str_cat(dataset_.query.size(), " queries and ",
                                                              dataset_.gallery.size(), " gallery images")
                                                    : str_cat(dataset_.test.size(), " test images"),
                           ", ", evaluation_fingerprint(dataset_), ", feature ", config_.eval_feature);
  out.evaluation_files = files_fingerprint({&dataset_.test, &dataset_.query, &dataset_.gallery});
  out.image_source = stream_.uses_cache() ? "cache" : "files";
  return out;
}

Tensor DatasetBatchSource::clustering_features(SgmlModel& model, std::vector<int>* rows) {
  FeatureExtractionSettings s;
  s.image_size = config_.image_size;
  s.eval_resize = config_.eval_resize;
  s.feature = FeatureKind::Conv;
  s.workers = config_.workers;
  s.skip_bad_images = config_.skip_bad_images;
  // From the cache where the run reads it and the evaluation transform can (the same pixels as the files', and an
  // image gone from disk since prepare is served as in training).
  LoaderConfig transform;
  transform.eval_resize = s.eval_resize;
  const bool cached = stream_.uses_cache() && cache_unusable_for(transform).empty();
  ExtractedFeatures f = extract_features(model, dataset_.train, s, cached ? stream_.cache() : nullptr);
  *rows = f.kept;
  return f.features;
}

std::vector<int> DatasetBatchSource::cluster_sizes() const {
  const ClusterBatchSampler* s = stream_.cluster_sampler();
  return s ? s->cluster_sizes() : std::vector<int>();
}

std::vector<int> DatasetBatchSource::cluster_kept() const {
  const ClusterBatchSampler* s = stream_.cluster_sampler();
  return s ? s->kept_images() : std::vector<int>();
}

TrainBatch DatasetBatchSource::batch(int64_t step) {
  Batch b = stream_.batch(step);
  SGML_CHECK(b.step == step && b.size() > 0, "the data stream returned step ", b.step, " for step ", step);
  TrainBatch out;
  out.images = std::move(b.images);
  out.attributes = std::move(b.attributes);
  out.labels.assign(b.labels.begin(), b.labels.end());
  return out;
}

}  // namespace sgml
