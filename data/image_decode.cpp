#include "data/image_decode.h"

#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#include "engine/check.h"

namespace sgml {

RgbImage decode_image(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  stbi_uc* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (!data) SGML_FAIL("cannot decode image '", path, "': ", stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
  RgbImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(data, data + size_t(w) * h * 3);
  stbi_image_free(data);
  return img;
}

}  // namespace sgml
