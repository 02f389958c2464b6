// Decoding a dataset image from its file, strictly: the one stb_image decoder (retrieval/image_io.h, always to 8-bit
// RGB, so grayscale and RGBA files come out as 3 channels), after checks that stb_image does not make itself.
// stb_image decodes a JPEG cut off inside its entropy-coded data without complaint (the missing rows come out
// grey), so a JPEG must hold its end-of-image marker (FF D9) after its last start-of-scan marker (FF DA), and a PNG
// must hold its IEND chunk. Every failure is an sgml::Error that names the file: missing, empty, truncated or
// unreadable by stb_image.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "retrieval/image_io.h"

namespace sgml {

RgbImage decode_image_file(const std::string& path);

// The check alone, on a file's bytes: empty when they look complete, else what is wrong ("truncated JPEG: ...").
std::string image_bytes_problem(const std::vector<uint8_t>& bytes);

}  // namespace sgml
