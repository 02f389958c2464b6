// The multi-threaded batch loader. A source (a sampler, a batch plan, or SequentialBatches for evaluation) says
// which images make up step t; worker threads decode (or read from the decoded-image cache), crop, augment, resize
// and normalise them into a host batch while the caller trains on the previous one.
//
// Determinism: the source is called on the caller's thread in step order; the augmentation of the image at
// position i of step t draws from its own stream seeded by mix_seed(seed, t, i); each worker writes only its own
// rows. The batches are therefore byte-identical for any worker count and prefetch depth.
//
// Bad images (missing, truncated, corrupt, a directory, not readable: whatever fails to load):
//   Fail                the default: next() throws the sgml::Error naming the file (the lowest position's, when
//                       several images of one batch fail)
//   ReplaceWithinClass  training: the image is replaced by the next readable image of the same class in the list's
//                       order (wrapping around), so the batch keeps its size and class composition; fails when the
//                       whole class is unreadable. Batch::indices names the image actually loaded.
//   Drop                evaluation: the row is left out of the batch (Batch::indices says which images remain), so
//                       no other image takes its place in the retrieval ranking. A batch whose images were all
//                       dropped has no rows but keeps its step (the end of the stream has step -1).
// Every bad image met is counted (bad_images_skipped()) and its path kept (bad_image_paths()) for the end-of-run
// report; counts accumulate in the order batches are consumed, so they are deterministic too.
//
// No exception leaves a worker thread: each failure is recorded for its position and thrown by next() on the
// caller's thread. Worker threads that cannot be started (a huge `workers`) make the constructor throw an
// sgml::Error saying how many, after joining those that did start.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/image_transform.h"
#include "engine/tensor.h"

namespace sgml {

class ImageCache;
struct LoaderConfig;

// Why the decoded-image cache cannot serve `config`'s transform, or "" when it can: the cache holds each region
// already squashed to C x C, which the SGML crop and the plain evaluation resize accept (they keep or ignore the
// region's aspect ratio the same way), but RandomResizedCrop's aspect ratios and Resize + CenterCrop need the
// original pixels.
std::string cache_unusable_for(const LoaderConfig& config);

// The decoded-image cache at `image_size` for `transform` (find_image_cache, then cache_unusable_for), or nullptr;
// `note` gets the line a run prints about it: "decoded-image cache: PATH" (with which files it serves that are
// gone), "decoded-image cache not used: why", or "" when there is none. One choice for training and evaluation.
std::shared_ptr<const ImageCache> cache_for_transform(const Dataset& dataset, int image_size,
                                                      const LoaderConfig& transform, std::string* note);

enum class BadImagePolicy { Fail, ReplaceWithinClass, Drop };

struct LoaderConfig {
  int image_size = 224;        // S
  bool augment = false;        // the training augmentation (data/image_transform.h: random crop, flip)
  TrainCrop train_crop = TrainCrop::Sgml;  // its crop
  int eval_resize = 0;         // without augmentation: 0, or Resize(R) + CenterCrop(S) (data/image_transform.h)
  uint64_t seed = 0;
  int workers = 0;             // decoding threads; 0: the machine's cores
  int prefetch = 2;            // batches prepared ahead of the one the caller holds
  int64_t first_step = 0;      // the step the first next() returns (a resumed run)
  BadImagePolicy on_bad_image = BadImagePolicy::Fail;
  // Appended to a bad image's error under Fail; "" for commands that have no --skip-bad-images.
  std::string bad_image_hint = " (use --skip-bad-images to skip unreadable images)";
};

struct Batch {
  int64_t step = -1;
  Tensor images;             // (B, 3, S, S) F32 on the CPU, normalised
  std::vector<int> labels;   // (B) dense class index within the split
  Tensor attributes;         // (B, K) F32, 0/1 targets
  std::vector<int> indices;  // (B) positions in the loader's image list
  int size() const { return int(indices.size()); }
};

// Indices of the images of step t; an empty list ends the stream.
using IndexSource = std::function<std::vector<int>(int64_t step)>;

class Loader {
 public:
  // `images` and `attributes` (rows indexed by ImageRecord::attribute_row, num_attributes values each) must outlive
  // the loader. `cache` (optional, image_cache.h) replaces decoding for the images it holds.
  Loader(const std::vector<ImageRecord>& images, const std::vector<std::vector<float>>& attributes, int num_attributes,
         IndexSource source, const LoaderConfig& config, std::shared_ptr<const ImageCache> cache = nullptr);
  // The training or evaluation images of a dataset.
  Loader(const Dataset& dataset, const std::vector<ImageRecord>& images, IndexSource source, const LoaderConfig& config,
         std::shared_ptr<const ImageCache> cache = nullptr);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch (step == -1 and size() == 0 once the source has ended). Throws the error of a bad image under Fail.
  Batch next();

  int bad_images_skipped() const { return bad_images_; }
  const std::vector<std::string>& bad_image_paths() const { return bad_paths_; }
  int workers() const { return int(threads_.size()); }
  bool uses_cache() const { return cache_ != nullptr; }

 private:
  struct Slot;
  void request(int64_t step);  // asks the source and queues the images of `step`
  void work();                 // a worker thread's loop
  void load_one(Slot& slot, int position);
  void finish(Slot& slot, Batch& out);
  void start_workers(int count);  // throws (after joining those started) when not all can be started
  void stop_workers();

  const std::vector<ImageRecord>& images_;
  const std::vector<std::vector<float>>& attributes_;
  int num_attributes_;
  IndexSource source_;
  LoaderConfig config_;
  std::shared_ptr<const ImageCache> cache_;
  std::vector<std::vector<int>> class_members_;  // label -> positions in images_ (for replacement)
  std::vector<int> rank_in_class_;               // position -> its rank in class_members_[label]

  std::mutex mutex_;
  std::condition_variable work_ready_, slot_done_;
  std::deque<std::unique_ptr<Slot>> slots_;        // in step order
  std::deque<std::pair<Slot*, int>> tasks_;        // (batch, position)
  bool stopping_ = false, source_ended_ = false;
  int64_t next_step_ = 0;
  std::vector<std::thread> threads_;

  int bad_images_ = 0;
  std::vector<std::string> bad_paths_;
};

}  // namespace sgml
