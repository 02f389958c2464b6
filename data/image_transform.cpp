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
  // A box that overlaps the image is clamped to it (annotations may reach a pixel past the edge); one that shares no
  // pixel with it belongs to another image or is wrong, and a crop of the edge pixel would pass silently for it.
  if (double(box.x) >= image_width || double(box.y) >= image_height || double(box.x) + box.width <= 0.0 ||
      double(box.y) + box.height <= 0.0)
    SGML_FAIL("its bounding box (x ", box.x, ", y ", box.y, ", width ", box.width, ", height ", box.height,
              ") lies outside the ", image_width, "x", image_height, " image");
  // Clamped in double before the int conversion: a box far outside the image must not overflow.
  const double x0 = std::clamp(std::floor(double(box.x)), 0.0, double(image_width - 1));
  const double y0 = std::clamp(std::floor(double(box.y)), 0.0, double(image_height - 1));
  const double x1 = std::clamp(std::ceil(double(box.x) + box.width), x0 + 1, double(image_width));
  const double y1 = std::clamp(std::ceil(double(box.y) + box.height), y0 + 1, double(image_height));
  return {int(x0), int(y0), int(x1 - x0), int(y1 - y0)};
}

TrainCrop parse_train_crop(const std::string& name) {
  if (name == "sgml") return TrainCrop::Sgml;
  if (name == "random-resized") return TrainCrop::RandomResized;
  SGML_FAIL("unknown training crop '", name, "' (expected sgml or random-resized)");
}

AugmentationDraw draw_augmentation(const PixelWindow& region, uint64_t seed, TrainCrop crop) {
  RandomStream rng(seed);
  AugmentationDraw d;
  if (crop == TrainCrop::RandomResized) {
    d.window = random_resized_window(region, rng);
  } else {
    const double side = std::sqrt(rng.uniform(kCropAreaMin, kCropAreaMax));  // area fraction -> side fraction
    d.window.width = std::clamp(int(std::lround(region.width * side)), 1, region.width);
    d.window.height = std::clamp(int(std::lround(region.height * side)), 1, region.height);
    d.window.x = region.x + int(rng.below(region.width - d.window.width + 1));
    d.window.y = region.y + int(rng.below(region.height - d.window.height + 1));
  }
  d.flip = rng.uniform() < kFlipProbability;
  return d;
}

ResizeCentreCrop resize_centre_crop_geometry(int region_width, int region_height, int resize, int size) {
  SGML_CHECK(region_width >= 1 && region_height >= 1 && size >= 1 && resize >= size, "resize ", resize,
             " then centre crop ", size, " of a ", region_width, "x", region_height, " region");
  const bool wide = region_width > region_height;
  const int shorter = wide ? region_height : region_width, longer = wide ? region_width : region_height;
  // torchvision: int(R * long / short), a double quotient truncated (R * long is exact in int64).
  const int64_t new_long = int64_t(double(int64_t(resize) * longer) / double(shorter));
  SGML_CHECK(new_long * resize <= kMaxImagePixels, "resizing a ", region_width, "x", region_height,
             " region to shorter side ", resize, " would make an image of ", new_long * resize, " pixels");
  ResizeCentreCrop g;
  g.resized_width = int(wide ? new_long : resize);
  g.resized_height = int(wide ? resize : new_long);
  g.crop = {int(std::nearbyint((g.resized_width - size) / 2.0)), int(std::nearbyint((g.resized_height - size) / 2.0)),
            size, size};
  return g;
}

void resize_window(uint8_t* out, const RgbImage& image, const PixelWindow& w, int width, int height) {
  SGML_CHECK(width >= 1 && height >= 1, "resize to ", width, "x", height);
  SGML_CHECK(w.x >= 0 && w.y >= 0 && w.width >= 1 && w.height >= 1 && w.x + w.width <= image.width &&
                 w.y + w.height <= image.height,
             "window ", w.x, ",", w.y, " ", w.width, "x", w.height, " outside a ", image.width, "x", image.height,
             " image");
  const uint8_t* src = image.pixels.data() + (size_t(w.y) * image.width + w.x) * 3;
  const size_t src_stride = size_t(image.width) * 3, row = size_t(width) * 3;
  if (w.width == width && w.height == height) {
    for (int y = 0; y < height; ++y) std::copy_n(src + y * src_stride, row, out + y * row);
    return;
  }
  if (!stbir_resize_uint8_generic(src, w.width, w.height, int(src_stride), out, width, height, int(row), 3,
                                  STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                  STBIR_COLORSPACE_LINEAR, nullptr))
    SGML_FAIL("resizing a ", w.width, "x", w.height, " region to ", width, "x", height, " failed");
}

void resize_normalise(float* out, const RgbImage& image, const PixelWindow& window, bool flip, int size) {
  std::vector<uint8_t> resized(size_t(size) * size * 3);  // (S, S, 3)
  resize_window(resized.data(), image, window, size, size);
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

void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug,
                     int eval_resize) {
  const PixelWindow region = region_of_interest(image.width, image.height, box);
  if (aug.enabled) {
    const AugmentationDraw d = draw_augmentation(region, aug.seed, aug.crop);
    return resize_normalise(out, image, d.window, d.flip, size);
  }
  if (eval_resize == 0) return resize_normalise(out, image, region, false, size);
  // Resize(R) then CenterCrop(S): the crop is taken from the resized image, as torchvision does, so that the
  // sampling grid is the same (a window resized straight to S x S would sample at other positions).
  const ResizeCentreCrop g = resize_centre_crop_geometry(region.width, region.height, eval_resize, size);
  RgbImage resized(g.resized_width, g.resized_height);
  resize_window(resized.pixels.data(), image, region, g.resized_width, g.resized_height);
  resize_normalise(out, resized, g.crop, false, size);
}

Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box, int eval_resize) {
  const RgbImage image = decode_image_file(path);
  Tensor t = Tensor::empty({3, size, size});
  transform_image(t.data(), image, box, size, Augmentation{}, eval_resize);
  return t;
}

}  // namespace sgml
