// Decoding a dataset image from its file, strictly: the project's decoders (data/image_io.h: libjpeg-turbo for
// JPEG, which refuses corrupt or cut data, stb_image for the rest; always 8-bit RGB, so grayscale, CMYK and RGBA
// files come out as 3 channels), after a quick check of the bytes first: a JPEG must hold its end-of-image marker
// (FF D9) after its last start-of-scan marker (FF DA), and a PNG its IEND chunk (stb_image decodes a cut PNG's
// missing rows as zeros without complaint). Every failure is an sgml::Error that names the file: missing, a
// directory, unreadable, empty, truncated, corrupt, too large, or a format that cannot be decoded.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace sgml {

RgbImage decode_image_file(const std::string& path);

// The check alone, on a file's bytes: empty when they look complete, else what is wrong ("truncated JPEG: ...").
std::string image_bytes_problem(const std::vector<uint8_t>& bytes);

}  // namespace sgml
