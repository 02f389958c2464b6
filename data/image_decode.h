// Image decoding with stb_image: JPEG and PNG (and what else stb reads), always to 8-bit RGB (grayscale and RGBA
// are converted). An unreadable, truncated or corrupt file is an sgml::Error naming the file and stb's reason.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sgml {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 3) interleaved
};

RgbImage decode_image(const std::string& path);

}  // namespace sgml
