// Decoding is retrieval/image_io.h (load_image_rgb: JPEG/PNG to RGB, errors name the file).
// From decoded pixels to the model's input: optional crop (a bounding box, clamped to the image), the training
// augmentation of the paper (Sec. V-B: a random crop of 0.9-1.0 of the image's area at the image's aspect ratio,
// horizontal flip with probability 1/2), resize to S x S with stb_image_resize's triangle (bilinear) filter (an
// image already S x S passes unchanged), scaling to [0, 1] and ImageNet normalisation, channel-first.
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "retrieval/image_io.h"  // RgbImage and the one stb_image decoder
#include "engine/tensor.h"

namespace sgml {

constexpr float kImageNetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImageNetStd[3] = {0.229f, 0.224f, 0.225f};

struct Augmentation {
  bool enabled = false;
  uint64_t seed = 0;  // the draw of this image (the caller mixes run seed, step and position)
};

// Writes (3, size, size) floats to `out`.
void transform_image(float* out, const RgbImage& image, const BoundingBox& box, int size, const Augmentation& aug);

// Decode + evaluation transform of one file: a (3, size, size) tensor (used by `sgml embed`).
Tensor load_image_for_model(const std::string& path, int size, const BoundingBox& box = {});

// A 64-bit mix of several values, for per-image random streams that depend only on (seed, step, position).
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c);

}  // namespace sgml
