#include "retrieval/image_io.h"

#include <algorithm>

#include "engine/check.h"
#include "engine/safetensors.h"

// A private copy of the stb_image decoder: STB_IMAGE_STATIC gives every stbi_* function internal linkage, so this
// defines no global symbol and cannot clash with the engine's one STB_IMAGE_IMPLEMENTATION (owned by data/), and
// the report does not depend on whether data/ has one yet. stb_image_write and stb_image_resize come from
// retrieval/stb_impl_report.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#pragma GCC diagnostic pop
#include <stb_image_resize.h>
#include <stb_image_write.h>

namespace sgml {

namespace {

RgbImage take_decoded(unsigned char* data, int w, int h, const std::string& what) {
  if (!data) SGML_FAIL("cannot decode ", what, ": ", stbi_failure_reason());
  RgbImage image;
  image.width = w;
  image.height = h;
  image.pixels.assign(data, data + size_t(w) * h * 3);
  stbi_image_free(data);
  return image;
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

RgbImage load_image_rgb(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);  // before w and h are read
  return take_decoded(data, w, h, path);
}

RgbImage decode_image_rgb(const std::vector<uint8_t>& bytes) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels, 3);
  return take_decoded(data, w, h, std::to_string(bytes.size()) + " bytes of image data");
}

RgbImage fit_within(const RgbImage& image, int max_side) {
  SGML_CHECK(max_side >= 1, "fit_within: max_side must be positive, got ", max_side);
  const int longer = std::max(image.width, image.height);
  if (longer <= max_side) return image;
  const double scale = double(max_side) / longer;
  RgbImage out(std::max(1, int(image.width * scale + 0.5)), std::max(1, int(image.height * scale + 0.5)));
  if (!stbir_resize_uint8(image.pixels.data(), image.width, image.height, 0, out.pixels.data(), out.width,
                          out.height, 0, 3))
    SGML_FAIL("stbir_resize_uint8 failed (", image.width, "x", image.height, " to ", out.width, "x", out.height, ")");
  return out;
}

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality) {
  std::vector<uint8_t> out;
  if (!stbi_write_jpg_to_func(append_bytes, &out, image.width, image.height, 3, image.pixels.data(), quality))
    SGML_FAIL("JPEG encoding of a ", image.width, "x", image.height, " image failed");
  return out;
}

std::vector<uint8_t> encode_png(const RgbImage& image) {
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append_bytes, &out, image.width, image.height, 3, image.pixels.data(), image.width * 3))
    SGML_FAIL("PNG encoding of a ", image.width, "x", image.height, " image failed");
  return out;
}

void write_png(const std::string& path, const RgbImage& image) {
  const std::vector<uint8_t> png = encode_png(image);
  write_file_atomically(path, std::string(png.begin(), png.end()));
}

std::string base64_encode(const std::vector<uint8_t>& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t b0 = bytes[i], b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0, b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
    const uint32_t triple = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(triple >> 18) & 63];
    out += kAlphabet[(triple >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(triple >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[triple & 63] : '=';
  }
  return out;
}

std::string data_uri(const std::string& mime, const std::vector<uint8_t>& bytes) {
  return "data:" + mime + ";base64," + base64_encode(bytes);
}

}  // namespace sgml
