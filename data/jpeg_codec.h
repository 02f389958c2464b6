// JPEG decoding and encoding with libjpeg-turbo (Debian's libjpeg62-turbo, the jpeglib.h API): the project's one
// JPEG decoder and one JPEG encoder. stb_image's JPEG decoder reads out of bounds on malformed Huffman tables and
// stb_image_write's encoder shifts negative values, so neither is used for JPEG.
//
// Decoding is strict, because a dataset image that decodes "somehow" is silent damage: every libjpeg error, and every
// libjpeg warning that means pixels were lost or made up (premature end of file, corrupt entropy-coded data, a
// marker where data should be, a bad progression), is an sgml::Error. Benign warnings are ignored: an unknown JFIF
// revision or Adobe transform code, and extraneous bytes between segments (padding that some cameras write; the
// image itself is intact and PIL reads it). The output is 8-bit RGB exactly as PIL's Image.open(...).convert("RGB")
// gives it (same libjpeg, same default IDCT and upsampling): grayscale is replicated to three channels, and
// CMYK/YCCK (4-component) JPEGs are read with Adobe's inverted polarity and converted with PIL's formula.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/image_io.h"

namespace sgml {

// The most scans a progressive JPEG may have (normal files have about 10): a file of thousands of tiny scans makes
// libjpeg work for minutes, as libjpeg-turbo's own fuzzers found.
constexpr int kMaxJpegScans = 1000;

// Starts with the SOI marker FF D8.
bool looks_like_jpeg(const uint8_t* data, size_t size);

// Throws sgml::Error saying what is wrong (the caller adds the file name); refuses a declared size over
// kMaxImagePixels (data/image_io.h) before allocating.
RgbImage decode_jpeg(const uint8_t* data, size_t size);

// Baseline JPEG, libjpeg's standard tables scaled for `quality` (1..100), JFIF header, no timestamp or other
// varying field, so the same pixels always give the same bytes. Chroma is kept at full resolution (4:4:4) above
// quality 90 and subsampled 4:2:0 otherwise (the rule of stb_image_write, which this replaces).
std::vector<uint8_t> encode_jpeg_libjpeg(const RgbImage& image, int quality);

}  // namespace sgml
