// From decoded pixels to the model's input, in this order:
//   1. region of interest: the bounding box (CUB) clamped to the image, floor of its start and ceil of its end;
//      the whole image when there is none
//   2. training only (--augment on), a random crop of the region (--train-crop), then a horizontal flip with
//      probability 1/2:
//        sgml            the SGML paper's (Sec. V-B): a uniform 0.9-1.0 fraction of the region's AREA at the region's
//                        own aspect ratio (side factor sqrt(fraction), position uniform). This is torchvision's
//                        RandomResizedCrop(scale=(0.9, 1.0)) with the ratio range pinned to the region's ratio (for
//                        In-shop's square images exactly ratio=(1, 1)); a square crop of a non-square CUB box could
//                        not hold 90% of its area, and the result is resized to S x S anyway.
//        random-resized  the Divide & Conquer authors': torchvision's RandomResizedCrop(S) with its defaults, area
//                        fraction 0.08-1.0 and aspect ratio 3/4-4/3 (log-uniform), 10 attempts, then a centre crop
//                        (random_resized_window below, step for step as torchvision's get_params).
//      Evaluation (and training with --augment off) instead takes the whole region (--eval-resize 0), or, with
//      --eval-resize R, torchvision's Resize(R) + CenterCrop(S): the region resized so that its shorter side is R
//      (the longer int(R * long / short)), then its centre S x S (offsets rounded half to even, as Python's round).
//   3. resize to S x S with stb_image_resize's triangle filter (v0.97, edge clamp, linear colour space, on 8-bit
//      values as PIL does). Upscaling, that is exactly bilinear interpolation (torch's align_corners=False);
//      downscaling, the triangle widens with the scale factor: PIL's antialiased BILINEAR, which torchvision's
//      Resize applies to PIL images. Measured against them in tests/test_data_transform.cpp. A region already
//      S x S is copied unchanged.
//   4. x / 255, then ImageNet normalisation (x - mean) / std per RGB channel, channel-first (3, S, S).
// Decoding is data/image_decode.h.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "data/random_stream.h"
#include "engine/tensor.h"
#include "data/image_io.h"

namespace sgml {

constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};
constexpr double kCropAreaMin = 0.9, kCropAreaMax = 1.0, kFlipProbability = 0.5;
// torchvision's RandomResizedCrop defaults (--train-crop random-resized).
constexpr double kResizedCropAreaMin = 0.08, kResizedCropAreaMax = 1.0;
constexpr double kResizedCropRatioMin = 3.0 / 4.0, kResizedCropRatioMax = 4.0 / 3.0;
constexpr int kResizedCropAttempts = 10;

enum class TrainCrop { Sgml, RandomResized };  // step 2, --train-crop
TrainCrop parse_train_crop(const std::string& name);  // "sgml" | "random-resized"; anything else is an error

struct PixelWindow {
  int x = 0, y = 0, width = 0, height = 0;
};

struct Augmentation {
  bool enabled = false;
  uint64_t seed = 0;  // the draw of this image (the caller mixes run seed, step and position: mix_seed)
  TrainCrop crop = TrainCrop::Sgml;
};

struct AugmentationDraw {
  PixelWindow window;  // inside the region of interest
  bool flip = false;
};

// Step 1: the bounding box clamped to the image, or the whole image without a box. A box that shares no pixel with
// the image is an error.
PixelWindow region_of_interest(int image_width, int image_height, const BoundingBox& box);
// Step 2: a pure function of the region, the seed and the crop kind (its draws, then the flip's).
AugmentationDraw draw_augmentation(const PixelWindow& region, uint64_t seed, TrainCrop crop = TrainCrop::Sgml);

// torchvision's RandomResizedCrop.get_params on `region` (the window inside it), with the random numbers from
// `draws` (RandomStream, or a test's recorder): per attempt draws.uniform(area_min, area_max) and
// draws.uniform(log ratio_min, log ratio_max); at the first attempt that fits, draws.below(height - h + 1) for the
// top and draws.below(width - w + 1) for the left offset. Exposed so that tests can replay the same draws through
// torchvision's own code.
template <class Draws>
PixelWindow random_resized_window(const PixelWindow& region, Draws& draws) {
  const double area = double(region.width) * region.height;
  // torchvision takes the logarithms of the ratio range in float32 (torch.log of a float tensor).
  const double log_min = std::log(float(kResizedCropRatioMin)), log_max = std::log(float(kResizedCropRatioMax));
  for (int attempt = 0; attempt < kResizedCropAttempts; ++attempt) {
    const double target_area = area * draws.uniform(kResizedCropAreaMin, kResizedCropAreaMax);
    const double aspect = std::exp(draws.uniform(log_min, log_max));
    // Python's round: halves to even, as std::nearbyint in the default rounding mode.
    const double w = std::nearbyint(std::sqrt(target_area * aspect)),
                 h = std::nearbyint(std::sqrt(target_area / aspect));
    if (w > 0 && w <= region.width && h > 0 && h <= region.height) {
      const int top = int(draws.below(int64_t(region.height - h + 1)));
      const int left = int(draws.below(int64_t(region.width - w + 1)));
      return {region.x + left, region.y + top, int(w), int(h)};
    }
  }
  // No attempt fitted: the largest centred window whose ratio is in range.
  const double in_ratio = double(region.width) / double(region.height);
  int w = region.width, h = region.height;
  if (in_ratio < kResizedCropRatioMin) h = int(std::nearbyint(w / kResizedCropRatioMin));
  else if (in_ratio > kResizedCropRatioMax) w = int(std::nearbyint(h * kResizedCropRatioMax));
  return {region.x + (region.width - w) / 2, region.y + (region.height - h) / 2, w, h};
}

// Evaluation with --eval-resize R (R >= size): the window of the region's resized (R, long side) image that
// CenterCrop(size) keeps, and that image's width and height.
struct ResizeCentreCrop {
  int resized_width = 0, resized_height = 0;
  PixelWindow crop;  // inside the resized image
};
ResizeCentreCrop resize_centre_crop_geometry(int region_width, int region_height, int resize, int size);

// Step 3 alone: `window` of `image` resized to (height, width, 3) 8-bit pixels at `out` (the image cache's
// square images, the resized image of --eval-resize).
void resize_window(uint8_t* out, const RgbImage& image, const PixelWindow& window, int width, int height);
// Steps 3 and 4: writes (3, size, size) floats to `out`, mirrored left-right when `flip`.
void resize_normalise(float* out, const RgbImage& image, const PixelWindow& window, bool flip, int size);

// Steps 1-4. Writes (3, size, size) floats to `out`. `eval_resize` (0, or at least `size`) applies when the
// augmentation is off.
void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug,
                     int eval_resize = 0);

// Decode (data/image_decode.h) + evaluation transform of one file: a (3, size, size) tensor (steps 1-4 without
// augmentation). Errors name the file.
Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box = {}, int eval_resize = 0);

}  // namespace sgml
