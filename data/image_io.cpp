#include "data/image_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "engine/check.h"
#include "engine/safetensors.h"
#include "data/jpeg_codec.h"

// A private copy of the stb_image decoder for PNG only: STB_IMAGE_STATIC gives every stbi_* function internal
// linkage, so this defines no global symbol. JPEG goes to libjpeg-turbo (data/jpeg_codec.h): stb_image's JPEG
// decoder reads out of bounds on malformed Huffman tables. The other formats stb_image knows are left out
// (STBI_ONLY_PNG): the datasets are JPEG, tests and exports PNG, and stb's BMP/TGA/PNM loaders do not check for the
// end of the data (fuzzing found a 54-byte BMP that "decodes" to a 181 MB black image). stb_image_resize and the
// PNG writer come from data/stb_impl.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
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

std::vector<uint8_t> read_image_file(const std::string& path) {
  // O_NONBLOCK: opening a named pipe must not wait for a writer (it is refused below as not a regular file).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) SGML_FAIL("cannot open image '", path, "': no such file");
    SGML_FAIL("cannot open image '", path, "': ", std::strerror(err), err == EACCES ? " (cannot read it)" : "");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) SGML_FAIL("cannot read image '", path, "': ", std::strerror(errno));
  if (S_ISDIR(st.st_mode)) SGML_FAIL("cannot read image '", path, "': it is a directory, not an image file");
  if (!S_ISREG(st.st_mode)) SGML_FAIL("cannot read image '", path, "': not a regular file");
  if (st.st_size > kMaxImageFileBytes)
    SGML_FAIL("cannot read image '", path, "': ", st.st_size, " bytes is over the limit of ", kMaxImageFileBytes,
              " bytes for an image file");
  std::vector<uint8_t> bytes(size_t(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) SGML_FAIL("cannot read image '", path, "': ", std::strerror(errno));
    if (n == 0) break;  // the file shrank while being read: what is there is checked as a cut file would be
    done += size_t(n);
  }
  bytes.resize(done);
  return bytes;
}

RgbImage load_image_rgb(const std::string& path) {
  const std::vector<uint8_t> bytes = read_image_file(path);
  try {
    return decode_image_rgb(bytes);
  } catch (const Error& e) {
    SGML_FAIL("bad image '", path, "': ", e.what());
  }
}

RgbImage decode_image_rgb(const std::vector<uint8_t>& bytes) {
  if (looks_like_jpeg(bytes.data(), bytes.size())) return decode_jpeg(bytes.data(), bytes.size());
  const std::string what = std::to_string(bytes.size()) + " bytes of image data";
  if (bytes.size() > size_t(INT_MAX)) SGML_FAIL("cannot decode ", what, ": too large for stb_image");
  int w = 0, h = 0, channels = 0;
  // The declared size first: stb_image would allocate it before reading any pixel.
  if (!stbi_info_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels)) {
    static const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kPngSignature, 8) != 0)
      SGML_FAIL("cannot decode ", what, ": not a JPEG or PNG image (the formats sgml reads)");
    SGML_FAIL("cannot decode ", what, ": ", stbi_failure_reason());
  }
  if (int64_t(w) * h > kMaxImagePixels)
    SGML_FAIL("cannot decode ", what, ": declared size ", w, "x", h, " (", int64_t(w) * h,
              " pixels) is over the limit of ", kMaxImagePixels, " pixels (2^28)");
  unsigned char* data = stbi_load_from_memory(bytes.data(), int(bytes.size()), &w, &h, &channels, 3);
  return take_decoded(data, w, h, what);
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

std::vector<uint8_t> encode_jpeg(const RgbImage& image, int quality) { return encode_jpeg_libjpeg(image, quality); }

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
    const uint32_t b0 = bytes[i], b1 = i + 1 < bytes.size() ? bytes[i + 1] : 0,
                   b2 = i + 2 < bytes.size() ? bytes[i + 2] : 0;
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
