// The optional decoded-image cache (`sgml prepare DATASET --data DIR`): every image of the dataset decoded, cropped
// to its bounding box (CUB unless --crop-boxes false; Cars196 with --crop-boxes) and resized once to C x C (stb
// triangle filter, as the transform), stored as raw RGB in one file that training memory-maps, so that no JPEG is
// decoded during training.
//
//   DIR/sgml_cache/images_C.u8     N x C x C x 3 bytes, image i at i * C * C * 3, in the dataset's order
//   DIR/sgml_cache/images_C.json   {"format": "sgml-image-cache", "version": 4, "kind", "size": C, "count": N,
//                                   "paths": [...], "boxes": [null | [x, y, width, height], ...],
//                                   "stamps": [null | [bytes, modified_ns], ...], "bad": {"i": "why", ...}}
// "paths" are below the dataset's folder (path_below_root), so that the cache serves that folder however it is
// spelled (relative, absolute, with './' or a final '/'); "boxes" holds the bounding box each image was cropped to
// (null: not cropped), one per path; "stamps" the size and modification time of each file as prepare read it
// (file_stamps.h; null: unreadable). Versions 1 (no boxes), 2 (paths as the dataset's folder was spelled) and 3 (no
// stamps) are reported as prepared by an older sgml ("run sgml prepare again").
//
// A path that is not valid UTF-8 (JSON holds only UTF-8) is stored as {"hex": "<its bytes>"} (data/path_text.h),
// so that any file name round-trips. `sgml prepare` writes both files under temporary names (NAME.tmp-PID) and
// moves them into place at the end, the index last (after removing the old one): an interrupted prepare leaves
// either the previous cache, or data without an index, which find_image_cache reports ("run sgml prepare again");
// the next prepare removes what a killed one left. Every field of the index is checked when it is read; errors
// name the file and the field.
//
// The loader then applies the rest of the transform to the cached C x C image. With C = S (the model's size) the
// evaluation input is identical to decoding (the cached image is S x S and passes unchanged); the training crop is
// taken from the cached image instead of the original, which differs only by resampling (the crop keeps the
// aspect ratio of what it crops, and the result is S x S either way). A cache is used only when its list of paths
// and its boxes equal the dataset's (a changed dataset needs a new `sgml prepare`): a cache prepared cropped
// (CUB's default, Cars196 with --crop-boxes) is not used by an uncropped run and vice versa, nor a CUB cache after
// bounding_boxes.txt changed, nor a cache of an image file that has changed since (another size or modification
// time). An image file that is gone is served from the cache: its pixels are the ones prepare read.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"
#include "data/file_stamps.h"
#include "data/image_io.h"

namespace sgml {

class ImageCache {
 public:
  // Maps the cache whose index is `json_path`, for the dataset in the folder `dataset_root` (the images' paths
  // are looked up below it); errors name the file.
  static std::shared_ptr<const ImageCache> open(const std::string& json_path, const std::string& dataset_root = "");
  ~ImageCache();
  ImageCache(const ImageCache&) = delete;
  ImageCache& operator=(const ImageCache&) = delete;

  int size() const { return size_; }  // C
  int count() const { return int(paths_.size()); }
  const std::string& json_path() const { return json_path_; }
  // The slot of an image path, or -1 when the cache does not hold it.
  int find(const std::string& path) const;
  // The C x C image of a slot; throws sgml::Error naming the original file when `sgml prepare` found it bad.
  RgbImage image(int slot) const;
  bool holds_all(const Dataset& dataset) const;   // the same paths in cache_order
  bool same_boxes(const Dataset& dataset) const;  // the same bounding box for every image, in cache_order
  // The image files of `dataset` (in cache_order) against what prepare read: `changed` is empty when none has
  // changed, else what changed (the first such file and how many); `gone` says how many are no longer on disk (the
  // cache holds them) and names the first, or is empty.
  struct FileCheck {
    std::string changed, gone;
  };
  FileCheck check_files(const Dataset& dataset) const;

 private:
  ImageCache() = default;
  void map_data();  // maps data_path_ after checking that its size matches the index
  std::string json_path_, data_path_, root_;
  int size_ = 0;
  std::vector<std::string> paths_;
  std::vector<BoundingBox> boxes_;  // one per path; invalid: not cropped
  std::vector<std::optional<FileStamp>> stamps_;  // one per path; nothing: unreadable at prepare
  std::unordered_map<std::string, int> slot_of_;
  std::unordered_map<int, std::string> bad_;
  const uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
};

// Every image of the dataset in cache order: train, then test, query, gallery (each path once).
std::vector<const ImageRecord*> cache_order(const Dataset& dataset);
std::string default_cache_dir(const Dataset& dataset);                 // DIR/sgml_cache
std::string cache_index_path(const std::string& cache_dir, int size);  // .../images_C.json

struct CacheBuildReport {
  int images = 0, bad = 0;
  double seconds = 0;
  std::string index_path;
};
// Writes the cache of `dataset` at side `size` into `cache_dir` (created when missing; an error names the path and
// what is wrong when it cannot be), atomically as described above. A bad image (whatever fails to load: bad bytes,
// a directory, no permission, missing) is an error naming the file, unless `skip_bad_images` (then it is recorded
// as bad in the index). Workers that cannot be started are an error saying how many.
CacheBuildReport build_image_cache(const Dataset& dataset, const std::string& cache_dir, int size, int workers,
                                   bool skip_bad_images);

// The cache for training at `image_size`: DIR/sgml_cache/images_S.json when present and matching the dataset,
// else nullptr. `why_not` (optional) says why a present cache was not used: a damaged index (the file and field),
// data without an index (an interrupted prepare), another dataset's list of images, other bounding boxes, or image
// files changed since prepare; with a cache returned, it says which image files are gone (the cache serves them),
// or is empty.
std::shared_ptr<const ImageCache> find_image_cache(const Dataset& dataset, int image_size,
                                                   std::string* why_not = nullptr, const std::string& cache_dir = "");
// The line a run prints for the cache it uses: "decoded-image cache: PATH", with find_image_cache's note on it.
std::string cache_in_use_note(const ImageCache& cache, const std::string& note);

}  // namespace sgml
