// The bounds of every count-like and real-valued setting, in one place, so that train, eval, search, embed, bench
// and info refuse the same values with the same words. An upper bound exists where a huge value would allocate or
// spawn without limit (image side, batch, threads) or would not fit the float the kernels receive.
#pragma once
#include <cfloat>
#include <climits>
#include <string>

namespace sgml {

struct IntRange {
  int min, max;
};

// Real-valued settings: always finite; `min_exclusive` for those that must be strictly above `min`.
struct RealRange {
  double min, max;
  bool min_exclusive = false;
};

namespace limits {
// Side of the square model input in pixels. ResNets need 32 to keep a spatial map after five stride-2 stages; above
// 1024 a single batch needs tens of GiB of activations.
inline constexpr IntRange kImageSize{32, 1024};
inline constexpr IntRange kEvalResize{0, 4096};  // 0, or at least the image size (check_train_config)
// Images per forward pass (eval, search, embed, bench) and images per training batch (N' x M', 3 x triplets).
inline constexpr IntRange kBatchSize{1, 4096};
inline constexpr IntRange kClassesPerBatch{2, 4096};
inline constexpr IntRange kImagesPerClass{1, 1024};
inline constexpr IntRange kTripletsPerBatch{1, 1365};  // 3 x 1365 = 4095 images
// Decoding / loader threads; 0 means one per core.
inline constexpr IntRange kWorkers{0, 256};
inline constexpr IntRange kEpochs{0, 1000000};
inline constexpr IntRange kSteps{0, INT_MAX};
inline constexpr IntRange kNonNegative{0, INT_MAX};
inline constexpr IntRange kPositive{1, INT_MAX};
inline constexpr IntRange kEvalEvery{-1, INT_MAX};  // -1: never, 0: at the end only
inline constexpr IntRange kAttributes{1, 100000};
inline constexpr IntRange kTop{1, 100000};

// Hyper-parameters handed to float kernels must fit a float.
inline constexpr RealRange kPositiveFloat{0.0, FLT_MAX, true};
inline constexpr RealRange kNonNegativeFloat{0.0, FLT_MAX};
inline constexpr RealRange kAnyFloat{-FLT_MAX, FLT_MAX};
inline constexpr RealRange kFactor{0.0, 1.0, true};  // (0, 1]
// The rank-approximation loss (losses/rank_loss.h): the range in which it is numerically stable.
inline constexpr RealRange kRankTau{1e-3, 1.0};
inline constexpr RealRange kRankRho{1e-2, 10.0};
// The margin loss (losses/margin_loss.h) on unit vectors, whose distances lie in [0, 2].
inline constexpr RealRange kMargin{0.0, 2.0};
inline constexpr RealRange kMarginBeta{0.0, 2.0};
// Divide & Conquer: learners (clusters) and the embedding they share.
inline constexpr IntRange kLearners{1, 64};
inline constexpr IntRange kEmbeddingDim{2, 4096};
inline constexpr RealRange kDropout{0.0, 0.95};  // layers/dropout.h
}  // namespace limits

// Throws sgml::Error "WHAT must be between MIN and MAX, got VALUE" unless value is within range.
void check_int_range(long long value, IntRange range, const std::string& what);
void check_real_range(double value, RealRange range, const std::string& what);
// The one check of an image size, whether it comes from an option or a checkpoint's stored configuration.
void check_image_size(long long size, const std::string& what);
// The images of one batch (a training batch is all pairs of it: memory grows with its square).
void check_batch_size(long long images, const std::string& what);

}  // namespace sgml
