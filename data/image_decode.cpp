#include "data/image_decode.h"

#include <cstring>

#include "engine/check.h"

namespace sgml {

namespace {

bool is_jpeg(const std::vector<uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

bool is_png(const std::vector<uint8_t>& b) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  return b.size() >= 8 && std::memcmp(b.data(), kSignature, 8) == 0;
}

// Inside entropy-coded JPEG data a 0xFF byte is followed by 0x00 (stuffing) or a restart marker (D0-D7), so the last
// FF DA is the start of the last scan, and the image ends with FF D9 after it. (Bytes after the end marker, which
// some writers append, are allowed.)
bool jpeg_has_end(const std::vector<uint8_t>& b) {
  size_t last_scan = 0;
  for (size_t i = b.size() - 1; i > 0; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xDA) {
      last_scan = i;
      break;
    }
  if (last_scan == 0) return false;
  for (size_t i = last_scan + 1; i + 1 < b.size(); ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xD9) return true;
  return false;
}

bool png_has_end(const std::vector<uint8_t>& b) {
  // The IEND chunk: length 0, type "IEND", CRC; normally the last 12 bytes (only the last 4 KiB are searched).
  static const uint8_t kIend[8] = {0, 0, 0, 0, 'I', 'E', 'N', 'D'};
  if (b.size() < 8) return false;
  const size_t from = b.size() > 4096 ? b.size() - 4096 : 0;
  for (size_t i = b.size() - 8 + 1; i-- > from;)
    if (std::memcmp(&b[i], kIend, 8) == 0) return true;
  return false;
}

}  // namespace

std::string image_bytes_problem(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return "empty file";
  if (is_jpeg(bytes) && !jpeg_has_end(bytes)) return "truncated JPEG (no end-of-image marker after the last scan)";
  if (is_png(bytes) && !png_has_end(bytes)) return "truncated PNG (no IEND chunk)";
  return "";
}

RgbImage decode_image_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_image_file(path);  // names the file: missing, a directory, unreadable
  const std::string problem = image_bytes_problem(bytes);
  if (!problem.empty()) SGML_FAIL("bad image '", path, "': ", problem);
  try {
    return decode_image_rgb(bytes);
  } catch (const Error& e) {
    SGML_FAIL("bad image '", path, "': ", e.what());
  }
}

}  // namespace sgml
