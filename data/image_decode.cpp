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
bool last_scan_has_end(const std::vector<uint8_t>& b) {
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

// The same question asked from the front, as libjpeg reads: segment by segment (skipping stray bytes between them),
// through each scan's entropy-coded data, to the first end marker. It answers where bytes appended after the end hold
// FF DA without a later FF D9, which the question from the back takes for a scan cut short.
bool markers_reach_end(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  size_t i = 2;  // after the start-of-image marker
  while (i < n) {
    while (i < n && b[i] != 0xFF) ++i;  // stray bytes before a marker (libjpeg warns and skips them)
    while (i < n && b[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return false;
    const uint8_t marker = b[i++];
    if (marker == 0xD9) return true;
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // markers without a segment
    if (i + 2 > n) return false;
    i += size_t(b[i]) << 8 | b[i + 1];  // the segment's length counts its own two bytes
    if (marker != 0xDA) continue;
    // Entropy-coded data: up to the first 0xFF followed by a marker other than a restart (00 is stuffing).
    while (i + 1 < n && !(b[i] == 0xFF && b[i + 1] != 0x00 && b[i + 1] != 0xFF && (b[i + 1] < 0xD0 || b[i + 1] > 0xD7)))
      ++i;
    if (i + 1 >= n) return false;
  }
  return false;
}

bool jpeg_has_end(const std::vector<uint8_t>& b) { return last_scan_has_end(b) || markers_reach_end(b); }

// Chunk by chunk (length, type, data, CRC) from the signature to IEND: bytes appended after IEND, however many, are
// allowed, as by PIL and libpng; a chunk that runs past the end of the file, or no IEND, is a cut file.
bool png_has_end(const std::vector<uint8_t>& b) {
  size_t i = 8;
  while (i + 8 <= b.size()) {
    const uint64_t length = uint64_t(b[i]) << 24 | uint64_t(b[i + 1]) << 16 | uint64_t(b[i + 2]) << 8 | b[i + 3];
    if (std::memcmp(&b[i + 4], "IEND", 4) == 0) return true;
    i += 12 + length;  // length, type, data, CRC
  }
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
