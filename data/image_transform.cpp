#include "data/image_transform.h"

#include <stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "data/image_decode.h"
#include "engine/check.h"

namespace sgml {

PixelWindow region_of_interest(int image_width, int image_height, const BoundingBox& box) {
  SGML_CHECK(image_width > 0 && image_height > 0, "an image of ", image_width, "x", image_height, " pixels");
  if (!box.valid() || !std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) ||
      !std::isfinite(box.height))
    return {0, 0, image_width, image_height};
  // Clamped in double before the int conversion: a box far outside the image must not overflow.
  const double x0 = std::clamp(std::floor(double(box.x)), 0.0, double(image_width - 1));
  const double y0 = std::clamp(std::floor(double(box.y)), 0.0, double(image_height - 1));
  const double x1 = std::clamp(std::ceil(double(box.x) + box.width), x0 + 1, double(image_width));
  const double y1 = std::clamp(std::ceil(double(box.y) + box.height), y0 + 1, double(image_height));
  return {int(x0), int(y0), int(x1 - x0), int(y1 - y0)};
}

AugmentationDraw draw_augmentation(const PixelWindow& region, uint64_t seed) {
  RandomStream rng(seed);
  const double side = std::sqrt(rng.uniform(kCropAreaMin, kCropAreaMax));  // area fraction -> side fraction
  AugmentationDraw d;
  d.window.width = std::clamp(int(std::lround(region.width * side)), 1, region.width);
  d.window.height = std::clamp(int(std::lround(region.height * side)), 1, region.height);
  d.window.x = region.x + int(rng.below(region.width - d.window.width + 1));
  d.window.y = region.y + int(rng.below(region.height - d.window.height + 1));
  d.flip = rng.uniform() < kFlipProbability;
  return d;
}

void resize_window(uint8_t* out, const RgbImage& image, const PixelWindow& w, int size) {
  SGML_CHECK(size >= 1, "resize to ", size, "x", size);
  SGML_CHECK(w.x >= 0 && w.y >= 0 && w.width >= 1 && w.height >= 1 && w.x + w.width <= image.width &&
                 w.y + w.height <= image.height,
             "window ", w.x, ",", w.y, " ", w.width, "x", w.height, " outside a ", image.width, "x", image.height, " image");
  const uint8_t* src = image.pixels.data() + (size_t(w.y) * image.width + w.x) * 3;
  const size_t src_stride = size_t(image.width) * 3, row = size_t(size) * 3;
  if (w.width == size && w.height == size) {
    for (int y = 0; y < size; ++y) std::copy_n(src + y * src_stride, row, out + y * row);
    return;
  }
  if (!stbir_resize_uint8_generic(src, w.width, w.height, int(src_stride), out, size, size, int(row), 3,
                                  STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                  STBIR_COLORSPACE_LINEAR, nullptr))
    SGML_FAIL("resizing a ", w.width, "x", w.height, " region to ", size, "x", size, " failed");
}

void resize_normalise(float* out, const RgbImage& image, const PixelWindow& window, bool flip, int size) {
  std::vector<uint8_t> resized(size_t(size) * size * 3);  // (S, S, 3)
  resize_window(resized.data(), image, window, size);
  const size_t plane = size_t(size) * size;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const uint8_t* p = &resized[(size_t(y) * size + size_t(flip ? size - 1 - x : x)) * 3];
      for (int c = 0; c < 3; ++c) {
        // As torchvision's ToTensor then Normalize, operation for operation (float32).
        out[c * plane + size_t(y) * size + x] = (p[c] / 255.0f - kImageNetMean[c]) / kImageNetStd[c];
      }
    }
}

void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug) {
  const PixelWindow region = region_of_interest(image.width, image.height, box);
  if (!aug.enabled) return resize_normalise(out, image, region, false, size);
  const AugmentationDraw d = draw_augmentation(region, aug.seed);
  resize_normalise(out, image, d.window, d.flip, size);
}

Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box) {
  const RgbImage image = decode_image_file(path);
  Tensor t = Tensor::empty({3, size, size});
  transform_image(t.data(), image, box, size, Augmentation{});
  return t;
}

}  // namespace sgml
