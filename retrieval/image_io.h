// 8-bit RGB images for reports and plots: decode, fit into a box, encode to JPEG/PNG in memory, data URIs.
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

// Any format stb_image reads (JPEG, PNG, BMP, ...), converted to RGB. Throws sgml::Error naming the file or saying
// what stb_image could not read.
RgbImage load_image_rgb(const std::string& path);
RgbImage decode_image_rgb(const std::vector<uint8_t>& bytes);

// Scaled (keeping the aspect ratio) so that the longer side is `max_side`; never enlarged.
RgbImage fit_within(const RgbImage& image, int max_side);

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality);
std::vector<uint8_t> encode_png(const RgbImage& image);
void write_png(const std::string& path, const RgbImage& image);  // atomically

std::string base64_encode(const std::vector<uint8_t>& bytes);
// "data:MIME;base64,..." for embedding in HTML.
std::string data_uri(const std::string& mime, const std::vector<uint8_t>& bytes);

}  // namespace sgml
