// From decoded pixels to the model's input (the paper's Sec. V-B preprocessing), in this order:
//   1. region of interest: the bounding box (CUB) clamped to the image, floor of its start and ceil of its end;
//      the whole image when there is none
//   2. training only: a random crop holding a uniform 0.9-1.0 fraction of the region's AREA at the region's own
//      aspect ratio (side factor sqrt(fraction), position uniform), and a horizontal flip with probability 1/2.
//      This is torchvision's RandomResizedCrop(scale=(0.9, 1.0)) with the ratio range pinned to the region's ratio
//      (for In-shop's square images exactly ratio=(1, 1)); a square crop of a non-square CUB box could not hold
//      90% of its area, and the result is resized to S x S anyway.
//   3. resize to S x S with stb_image_resize's triangle filter (v0.97, edge clamp, linear colour space, on 8-bit
//      values as PIL does). Upscaling, that is exactly bilinear interpolation (torch's align_corners=False);
//      downscaling, the triangle widens with the scale factor: PIL's antialiased BILINEAR, which torchvision's
//      Resize applies to PIL images. Measured against them in tests/test_data_transform.cpp. A region already
//      S x S is copied unchanged.
//   4. x / 255, then ImageNet normalisation (x - mean) / std per RGB channel, channel-first (3, S, S).
// Decoding is data/image_decode.h.
#pragma once
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

struct PixelWindow {
  int x = 0, y = 0, width = 0, height = 0;
};

struct Augmentation {
  bool enabled = false;
  uint64_t seed = 0;  // the draw of this image (the caller mixes run seed, step and position: mix_seed)
};

struct AugmentationDraw {
  PixelWindow window;  // inside the region of interest
  bool flip = false;
};

// Step 1.
PixelWindow region_of_interest(int image_width, int image_height, const BoundingBox& box);
// Step 2: a pure function of the region and the seed.
AugmentationDraw draw_augmentation(const PixelWindow& region, uint64_t seed);
// Step 3 alone: `window` of `image` resized to (size, size, 3) 8-bit pixels at `out` (used by the image cache).
void resize_window(uint8_t* out, const RgbImage& image, const PixelWindow& window, int size);
// Steps 3 and 4: writes (3, size, size) floats to `out`, mirrored left-right when `flip`.
void resize_normalise(float* out, const RgbImage& image, const PixelWindow& window, bool flip, int size);

// Steps 1-4. Writes (3, size, size) floats to `out`.
void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug);

// Decode (data/image_decode.h) + evaluation transform of one file: a (3, size, size) tensor; resize to
// size x size, [0, 1], ImageNet normalisation (used by `sgml embed`). Errors name the file.
Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box = {});

}  // namespace sgml
