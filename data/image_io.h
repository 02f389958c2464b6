// 8-bit RGB images for datasets, reports and plots: read and decode, fit into a box, encode to JPEG/PNG in memory, data
// URIs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sgml {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 3) row-major

  RgbImage() = default;
  RgbImage(int w, int h, uint8_t fill = 255) : width(w), height(h), pixels(size_t(w) * h * 3, fill) {}
  uint8_t* at(int x, int y) { return &pixels[(size_t(y) * width + x) * 3]; }
  const uint8_t* at(int x, int y) const { return &pixels[(size_t(y) * width + x) * 3]; }
};

// The largest image (width x height) the decoders accept: 2^28 pixels (768 MiB of RGB), checked from the declared
// size before anything is allocated for the pixels. Real photos are far below (50 megapixels is about 2^25.6).
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;
// The largest image file read: 1 GiB.
constexpr int64_t kMaxImageFileBytes = int64_t(1) << 30;

// A whole image file's bytes. Throws sgml::Error naming the file when it is missing, unreadable (permissions), a
// directory or another non-regular file (a named pipe would block), or larger than kMaxImageFileBytes.
std::vector<uint8_t> read_image_file(const std::string& path);

// JPEG through libjpeg-turbo (data/jpeg_codec.h: strict, as PIL decodes it), every other format stb_image reads
// (PNG, BMP, GIF, ...) through stb_image; always 8-bit RGB. Throws sgml::Error saying what could not be read
// (load_image_rgb names the file).
RgbImage load_image_rgb(const std::string& path);
RgbImage decode_image_rgb(const std::vector<uint8_t>& bytes);

// Scaled (keeping the aspect ratio) so that the longer side is `max_side`; never enlarged.
RgbImage fit_within(const RgbImage& image, int max_side);

// libjpeg-turbo (data/jpeg_codec.h): the same pixels always give the same bytes.
std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality);
std::vector<uint8_t> encode_png(const RgbImage& image);
void write_png(const std::string& path, const RgbImage& image);  // atomically

std::string base64_encode(const std::vector<uint8_t>& bytes);
// "data:MIME;base64,..." for embedding in HTML.
std::string data_uri(const std::string& mime, const std::vector<uint8_t>& bytes);

}  // namespace sgml
