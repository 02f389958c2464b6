#include "data/loader.h"

#include <algorithm>
#include <set>

#include "data/image_cache.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/worker_errors.h"
#include "engine/check.h"

namespace sgml {

// One batch in flight. Workers write disjoint rows of `batch` and their own entries of the per-position vectors.
struct Loader::Slot {
  int64_t step = 0;
  Batch batch;                                // indices start as requested; replacement rewrites an entry
  std::vector<uint8_t> dropped;               // (B)
  std::vector<std::string> error;             // (B) the error that stops the run, if any
  std::vector<uint8_t> failed;                // (B) set with error; kept apart because setting it cannot throw
  std::vector<std::vector<std::string>> bad;  // (B) paths of the bad images met at this position
  int remaining = 0;                          // positions not yet loaded
};

Loader::Loader(const std::vector<ImageRecord>& images, const std::vector<std::vector<float>>& attributes,
               int num_attributes, IndexSource source, const LoaderConfig& config,
               std::shared_ptr<const ImageCache> cache)
    : images_(images),
      attributes_(attributes),
      num_attributes_(num_attributes),
      source_(std::move(source)),
      config_(config),
      cache_(std::move(cache)),
      next_step_(config.first_step) {
  SGML_CHECK(config.image_size >= 1, "loader image size ", config.image_size);
  SGML_CHECK(num_attributes >= 0, "loader with ", num_attributes, " attributes");
  SGML_CHECK(config.eval_resize == 0 || config.eval_resize >= config.image_size, "loader: evaluation resize ",
             config.eval_resize, " below the image size ", config.image_size);
  if (cache_) {
    const std::string why = cache_unusable_for(config);
    SGML_CHECK(why.empty(), "the decoded-image cache ", cache_->json_path(), " cannot be used: ", why);
  }
  rank_in_class_.resize(images.size());
  for (int i = 0; i < int(images.size()); ++i) {
    const int label = images[size_t(i)].label;
    SGML_CHECK(label >= 0, "image ", i, " has a negative label");
    if (label >= int(class_members_.size())) class_members_.resize(size_t(label) + 1);
    rank_in_class_[size_t(i)] = int(class_members_[size_t(label)].size());
    class_members_[size_t(label)].push_back(i);
  }
  const int workers = config.workers > 0 ? config.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  start_workers(workers);
  try {
    for (int p = 0; p < std::max(1, config.prefetch); ++p) request(next_step_);
  } catch (...) {
    stop_workers();  // the destructor does not run when the constructor throws
    throw;
  }
}

std::string cache_unusable_for(const LoaderConfig& config) {
  if (config.augment && config.train_crop == TrainCrop::RandomResized)
    return "--train-crop random-resized crops the original images (the cache holds them squashed to squares); "
           "decoding the image files instead";
  if (!config.augment && config.eval_resize > 0)
    return "--eval-resize resizes the original images (the cache holds them squashed to squares); decoding the "
           "image files instead";
  return "";
}

std::shared_ptr<const ImageCache> cache_for_transform(const Dataset& dataset, int image_size,
                                                      const LoaderConfig& transform, std::string* note) {
  std::shared_ptr<const ImageCache> cache = find_image_cache(dataset, image_size, note);
  if (cache && !cache_unusable_for(transform).empty()) {
    *note = cache_unusable_for(transform);
    cache.reset();
  }
  if (cache)
    *note = cache_in_use_note(*cache, *note);
  else if (!note->empty())
    *note = "decoded-image cache not used: " + *note;
  return cache;
}

Loader::Loader(const Dataset& dataset, const std::vector<ImageRecord>& images, IndexSource source,
               const LoaderConfig& config, std::shared_ptr<const ImageCache> cache)
    : Loader(images, dataset.attributes, dataset.num_attributes(), std::move(source), config, std::move(cache)) {}

Loader::~Loader() { stop_workers(); }

void Loader::start_workers(int count) {
  std::string failure;
  for (int w = 0; w < count && failure.empty(); ++w) {
    try {
      threads_.emplace_back([this] { work(); });
    } catch (const std::system_error& e) {  // the system's limit on threads (or on memory for their stacks)
      failure = thread_start_error("loader worker threads", w, count, e);
    } catch (...) {                         // e.g. std::bad_alloc growing the vector
      failure =
          str_cat("could not start ", count - w, " of ", count, " loader worker threads: ", current_error_message());
    }
  }
  if (failure.empty()) return;
  stop_workers();  // joins the threads already started: the destructor does not run when the constructor throws
  SGML_FAIL(failure);
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void Loader::request(int64_t step) {
  if (source_ended_) return;
  std::vector<int> indices = source_(step);
  if (indices.empty()) {
    source_ended_ = true;
    return;
  }
  for (int i : indices)
    SGML_CHECK(i >= 0 && i < int(images_.size()), "step ", step, " asks for image ", i, " of a list of ",
               images_.size());
  auto slot = std::make_unique<Slot>();
  const int b = int(indices.size()), s = config_.image_size;
  slot->step = step;
  slot->batch.step = step;
  slot->batch.images = Tensor::empty({b, 3, s, s});
  slot->batch.attributes = Tensor::empty({b, num_attributes_});
  slot->batch.labels.assign(size_t(b), 0);
  slot->batch.indices = std::move(indices);
  slot->dropped.assign(size_t(b), 0);
  slot->error.resize(size_t(b));
  slot->failed.assign(size_t(b), 0);
  slot->bad.resize(size_t(b));
  slot->remaining = b;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int p = 0; p < b; ++p) tasks_.emplace_back(slot.get(), p);
    slots_.push_back(std::move(slot));
  }
  ++next_step_;
  work_ready_.notify_all();
}

void Loader::work() {
  for (;;) {
    std::pair<Slot*, int> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = tasks_.front();
      tasks_.pop_front();
    }
    // Nothing may leave this thread (std::terminate): an error that is not a bad image (those are handled inside)
    // is recorded for the position and stops the run in next(), on the caller's thread.
    try {
      load_one(*task.first, task.second);
    } catch (...) {
      task.first->failed[size_t(task.second)] = 1;
      try {
        task.first->error[size_t(task.second)] = current_error_message();
      } catch (...) {  // no memory for the message: finish() reports the position without it
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--task.first->remaining == 0) slot_done_.notify_all();
    }
  }
}

void Loader::load_one(Slot& slot, int position) {
  const int s = config_.image_size;
  float* out = slot.batch.images.data() + size_t(position) * 3 * size_t(s) * size_t(s);
  const Augmentation aug{config_.augment, mix_seed(config_.seed, uint64_t(slot.step), uint64_t(position)),
                         config_.train_crop};
  auto load = [&](int index) {
    const ImageRecord& r = images_[size_t(index)];
    const int cached = cache_ ? cache_->find(r.path) : -1;
    if (cached >= 0)
      transform_image(out, cache_->image(cached), BoundingBox{}, s, aug, config_.eval_resize);  // cropped when cached
    else transform_image(out, decode_image_file(r.path), r.box, s, aug, config_.eval_resize);
  };
  int index = slot.batch.indices[size_t(position)];
  // Every failure to load an image is a bad image, whatever threw: bad bytes, a directory, no permission, missing.
  std::string first;
  try {
    load(index);
  } catch (...) {
    first = current_image_error(images_[size_t(index)].path);
  }
  if (!first.empty()) {
    slot.bad[size_t(position)].push_back(images_[size_t(index)].path);
    if (config_.on_bad_image == BadImagePolicy::Fail) {
      slot.failed[size_t(position)] = 1;
      slot.error[size_t(position)] = first;
      return;
    }
    if (config_.on_bad_image == BadImagePolicy::Drop) {
      slot.dropped[size_t(position)] = 1;
      return;
    }
    // ReplaceWithinClass: the next images of the class, in list order.
    const std::vector<int>& same = class_members_[size_t(images_[size_t(index)].label)];
    const size_t start = size_t(rank_in_class_[size_t(index)]);
    bool loaded = false;
    for (size_t k = 1; k < same.size() && !loaded; ++k) {
      index = same[(start + k) % same.size()];
      try {
        load(index);
        loaded = true;
      } catch (...) {
        slot.bad[size_t(position)].push_back(images_[size_t(index)].path);
      }
    }
    if (!loaded) {
      slot.failed[size_t(position)] = 1;
      slot.error[size_t(position)] = str_cat(first, " (and no other image of its class '",
                                             images_[size_t(index)].item, "' is readable)");
      return;
    }
    slot.batch.indices[size_t(position)] = index;
  }
  const ImageRecord& r = images_[size_t(index)];
  slot.batch.labels[size_t(position)] = r.label;
  if (num_attributes_ > 0) {
    const std::vector<float>& row = attributes_.at(size_t(r.attribute_row));
    SGML_CHECK(int(row.size()) == num_attributes_, "attribute row of ", r.path, " has ", row.size(), " values, not ",
               num_attributes_);
    std::copy(row.begin(), row.end(), slot.batch.attributes.data() + size_t(position) * size_t(num_attributes_));
  }
}

void Loader::finish(Slot& slot, Batch& out) {
  // The first failed position's error, so that the message does not depend on which worker finished first.
  for (size_t p = 0; p < slot.failed.size(); ++p) {
    if (!slot.failed[p]) continue;
    const std::string& e = slot.error[p];
    SGML_FAIL(e.empty() ? str_cat("image ", slot.batch.indices[p], " of step ", slot.step,
                                  " could not be loaded (out of memory?)")
                        : e,
              config_.on_bad_image == BadImagePolicy::Fail && !slot.bad[p].empty() ? config_.bad_image_hint : "");
  }
  for (const auto& paths : slot.bad) {
    bad_images_ += int(paths.size());
    for (const std::string& p : paths)
      if (std::find(bad_paths_.begin(), bad_paths_.end(), p) == bad_paths_.end()) bad_paths_.push_back(p);
  }
  out = std::move(slot.batch);
  if (std::find(slot.dropped.begin(), slot.dropped.end(), 1) == slot.dropped.end()) return;
  // Drop: keep the rows that loaded.
  const int b = out.size(), k = num_attributes_;
  const size_t row = 3 * size_t(config_.image_size) * size_t(config_.image_size);
  std::vector<int> keep;
  for (int p = 0; p < b; ++p)
    if (!slot.dropped[size_t(p)]) keep.push_back(p);
  Batch kept;
  kept.step = out.step;
  kept.images = Tensor::empty({int64_t(keep.size()), 3, config_.image_size, config_.image_size});
  kept.attributes = Tensor::empty({int64_t(keep.size()), k});
  for (size_t j = 0; j < keep.size(); ++j) {
    const int p = keep[j];
    std::copy_n(out.images.data() + size_t(p) * row, row, kept.images.data() + j * row);
    std::copy_n(out.attributes.data() + size_t(p) * size_t(k), size_t(k), kept.attributes.data() + j * size_t(k));
    kept.labels.push_back(out.labels[size_t(p)]);
    kept.indices.push_back(out.indices[size_t(p)]);
  }
  out = std::move(kept);
}

Batch Loader::next() {
  std::unique_ptr<Slot> slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (slots_.empty()) return Batch{};
    slot_done_.wait(lock, [this] { return slots_.front()->remaining == 0; });
    slot = std::move(slots_.front());
    slots_.pop_front();
  }
  request(next_step_);  // keeps `prefetch` batches loading while the caller works on this one
  Batch out;
  finish(*slot, out);
  return out;
}

}  // namespace sgml
