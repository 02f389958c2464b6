// The one path from image files to features, used by training-time evaluation, `sgml eval`, `sgml embed` and
// `sgml search`: the Loader (data/loader.h) in sequential mode (batches of consecutive images, the evaluation
// transform, the decoded-image cache when one is given, decoding on worker threads while the model runs on the
// previous batch), then the model in eval mode without a tape.
//
// Unreadable images (whatever fails to load: bad bytes, a directory, no permission, missing) follow the training
// policy: an error naming the file (the first by position) unless skip_bad_images. With it, the image is dropped:
// it has no row in the features (never a zero feature, which would still take part in a ranking), and `kept` says
// which images the rows belong to.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/sgml_model.h"

namespace sgml {

class ImageCache;

struct FeatureExtractionSettings {
  int image_size = 224;  // S
  int eval_resize = 0;   // 0: the region resized to S x S; R: Resize(R) + CenterCrop(S) (data/image_transform.h)
  FeatureKind feature = FeatureKind::Emb;
  int batch_size = 64;
  int workers = 0;        // decoding threads (0: all cores; never more than there are images)
  bool skip_bad_images = false;
  // Appended to a bad image's error; "" for commands that have no --skip-bad-images.
  std::string bad_image_hint = " (use --skip-bad-images to skip unreadable images)";
};

struct ExtractedFeatures {
  Tensor features;                   // (N', D) on the host, one row per readable image, in list order
  std::vector<int> kept;             // (N') position in the image list of each row
  std::vector<std::string> dropped;  // paths of the images left out (only with skip_bad_images)
};

// Records of bare image files (no box, label 0), for commands that take paths rather than a dataset.
std::vector<ImageRecord> image_records(const std::vector<std::string>& paths);

// `cache` (optional, data/image_cache.h) replaces decoding for the images it holds.
ExtractedFeatures extract_features(SgmlModel& model, const std::vector<ImageRecord>& images,
                                   const FeatureExtractionSettings& settings,
                                   std::shared_ptr<const ImageCache> cache = nullptr);

}  // namespace sgml
