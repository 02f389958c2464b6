#include "data/image_transform.h"

#include <stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/check.h"

namespace sgml {

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  auto splitmix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  };
  return splitmix(splitmix(splitmix(a) ^ b) ^ c);
}

void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug) {
  // Region of interest: the box clamped to the image, else the whole image.
  int x0 = 0, y0 = 0, w = image.width, h = image.height;
  if (box.valid()) {
    x0 = std::clamp(int(std::floor(box.x)), 0, image.width - 1);
    y0 = std::clamp(int(std::floor(box.y)), 0, image.height - 1);
    w = std::clamp(int(std::ceil(box.x + box.width)) - x0, 1, image.width - x0);
    h = std::clamp(int(std::ceil(box.y + box.height)) - y0, 1, image.height - y0);
  }
  bool flip = false;
  if (aug.enabled) {
    std::mt19937_64 rng(aug.seed);
    std::uniform_real_distribution<double> scale(0.9, 1.0), unit(0.0, 1.0);
    const double side = std::sqrt(scale(rng));  // area fraction -> side fraction, aspect ratio kept
    const int cw = std::max(1, int(std::lround(w * side))), ch = std::max(1, int(std::lround(h * side)));
    x0 += int(unit(rng) * (w - cw + 1) * 0.999999);
    y0 += int(unit(rng) * (h - ch + 1) * 0.999999);
    w = cw;
    h = ch;
    flip = unit(rng) < 0.5;
  }
  std::vector<uint8_t> resized(size_t(size) * size * 3);
  const uint8_t* src = image.pixels.data() + (size_t(y0) * image.width + x0) * 3;
  if (w == size && h == size) {
    for (int y = 0; y < size; ++y) std::copy_n(src + size_t(y) * image.width * 3, size_t(size) * 3, &resized[size_t(y) * size * 3]);
  } else if (!stbir_resize_uint8_generic(src, w, h, image.width * 3, resized.data(), size, size, size * 3, 3,
                                         STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                         STBIR_COLORSPACE_LINEAR, nullptr)) {
    SGML_FAIL("resizing a ", w, "x", h, " region to ", size, "x", size, " failed");
  }
  const size_t plane = size_t(size) * size;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const uint8_t* p = &resized[(size_t(y) * size + (flip ? size - 1 - x : x)) * 3];
      for (int c = 0; c < 3; ++c) out[c * plane + size_t(y) * size + x] = (p[c] / 255.0f - kImageNetMean[c]) / kImageNetStd[c];
    }
}

Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box) {
  const RgbImage image = load_image_rgb(path);
  Tensor t = Tensor::empty({3, size, size});
  transform_image(t.data(), image, box, size, Augmentation{});
  return t;
}

}  // namespace sgml
