#include "data/jpeg_codec.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

// jpeglib.h needs FILE and size_t declared first (cstdio above).
#include <jerror.h>
#include <jpeglib.h>

#include "engine/check.h"

// libjpeg reports errors by calling error_exit, which must not return. Ours longjmps back to the setjmp in the
// function that called libjpeg. longjmp skips C++ destructors, so the rule here is: every function that calls setjmp
// holds no object with a destructor and changes no local after setjmp; all state lives in heap structs owned by a
// RAII object in the caller, which destroys the libjpeg object whatever happened. No C++ exception is ever thrown
// through libjpeg's C frames: callbacks only longjmp, and the C++ code throws after the setjmp function returned.

namespace sgml {

namespace {

struct ErrorState {
  jpeg_error_mgr pub;  // first member: libjpeg hands callbacks &pub as cinfo->err
  std::jmp_buf jump;
  int code = 0;        // libjpeg's message code of the failure, or -1 for our own (too many scans)
  char message[JMSG_LENGTH_MAX + 64] = {};
};

ErrorState& error_state(j_common_ptr cinfo) { return *reinterpret_cast<ErrorState*>(cinfo->err); }

[[noreturn]] void fail_from_libjpeg(j_common_ptr cinfo) {
  ErrorState& e = error_state(cinfo);
  e.code = cinfo->err->msg_code;
  (*cinfo->err->format_message)(cinfo, e.message);
  std::longjmp(e.jump, 1);
}

// Warnings that do not change a pixel. Every other warning means data was lost or invented (libjpeg fills what it
// cannot read with grey and carries on), and a dataset image decoded like that is silent damage.
bool benign_warning(int code) {
  return code == JWRN_EXTRANEOUS_DATA  // padding between segments, common in camera files; pixels intact
         || code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM;
}

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  if (benign_warning(cinfo->err->msg_code)) {
    ++cinfo->err->num_warnings;
    return;
  }
  fail_from_libjpeg(cinfo);
}

void on_progress(j_common_ptr cinfo) {
  const auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (d->input_scan_number <= kMaxJpegScans) return;
  ErrorState& e = error_state(cinfo);
  e.code = -1;
  std::snprintf(e.message, sizeof e.message, "more than %d scans (a progressive JPEG has about 10)", kMaxJpegScans);
  std::longjmp(e.jump, 1);
}

// ---- decoding ----

struct Decoder {
  ErrorState error;
  jpeg_decompress_struct cinfo;
  jpeg_progress_mgr progress;
  bool created = false;

  ~Decoder() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

// Phase 1: the header. Returns false on a libjpeg error (the message is in d.error).
bool read_header(Decoder& d, const uint8_t* data, size_t size) {
  d.cinfo.err = jpeg_std_error(&d.error.pub);
  d.error.pub.error_exit = fail_from_libjpeg;
  d.error.pub.emit_message = on_message;
  if (setjmp(d.error.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  d.progress.progress_monitor = on_progress;
  d.cinfo.progress = &d.progress;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

// Phase 2: the pixels, into `rgb` (height * width * 3 bytes); a 4-component image goes through `cmyk_row`
// (width * 4 bytes). Returns false on a libjpeg error.
bool read_pixels(Decoder& d, uint8_t* rgb, uint8_t* cmyk_row) {
  if (setjmp(d.error.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const size_t y = d.cinfo.output_scanline;
    JSAMPROW row = cmyk_row ? cmyk_row : rgb + y * d.cinfo.output_width * 3;
    jpeg_read_scanlines(&d.cinfo, &row, 1);
    if (!cmyk_row) continue;
    // PIL reads a CMYK JPEG as "CMYK;I" (Adobe's inverted polarity: stored value = 255 - ink), then
    // convert("RGB") computes nk - nk * ink / 255 with nk = 255 - black, rounded as MULDIV255 does.
    uint8_t* out = rgb + y * d.cinfo.output_width * 3;
    for (JDIMENSION x = 0; x < d.cinfo.output_width; ++x) {
      const int nk = cmyk_row[4 * x + 3];
      for (int c = 0; c < 3; ++c) {
        const int t = (255 - cmyk_row[4 * x + c]) * nk + 128;
        out[3 * x + c] = uint8_t(nk - (((t >> 8) + t) >> 8));
      }
    }
  }
  jpeg_finish_decompress(&d.cinfo);  // reads to the end-of-image marker: a cut file is caught here too
  return true;
}

[[noreturn]] void fail_with(const Decoder& d) {
  if (d.error.code == JERR_BAD_PRECISION)
    SGML_FAIL("JPEG: ", d.error.message, " (only 8-bit JPEG can be decoded; 12-bit and 16-bit JPEG are not supported)");
  SGML_FAIL("JPEG: ", d.error.message);
}

// ---- encoding ----

// Output into a malloc'ed buffer that grows by doubling (C allocation: nothing here may throw).
struct Sink {
  jpeg_destination_mgr pub;  // first member
  unsigned char* data = nullptr;
  size_t capacity = 0, used = 0;
};

void sink_init(j_compress_ptr cinfo) {
  auto* s = reinterpret_cast<Sink*>(cinfo->dest);
  s->capacity = 1 << 16;
  s->data = static_cast<unsigned char*>(std::malloc(s->capacity));
  if (!s->data) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  s->pub.next_output_byte = s->data;
  s->pub.free_in_buffer = s->capacity;
}

boolean sink_grow(j_compress_ptr cinfo) {  // called when the buffer is full
  auto* s = reinterpret_cast<Sink*>(cinfo->dest);
  auto* bigger = static_cast<unsigned char*>(std::realloc(s->data, 2 * s->capacity));
  if (!bigger) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  s->data = bigger;
  s->pub.next_output_byte = s->data + s->capacity;
  s->pub.free_in_buffer = s->capacity;
  s->capacity *= 2;
  return TRUE;
}

void sink_term(j_compress_ptr cinfo) {
  auto* s = reinterpret_cast<Sink*>(cinfo->dest);
  s->used = s->capacity - s->pub.free_in_buffer;
}

struct Encoder {
  ErrorState error;
  jpeg_compress_struct cinfo;
  Sink sink;
  bool created = false;

  ~Encoder() {
    if (created) jpeg_destroy_compress(&cinfo);
    std::free(sink.data);
  }
};

bool run_encode(Encoder& e, const RgbImage& image, int quality) {
  e.cinfo.err = jpeg_std_error(&e.error.pub);
  e.error.pub.error_exit = fail_from_libjpeg;
  e.error.pub.emit_message = on_message;
  if (setjmp(e.error.jump)) return false;
  jpeg_create_compress(&e.cinfo);
  e.created = true;
  e.sink.pub.init_destination = sink_init;
  e.sink.pub.empty_output_buffer = sink_grow;
  e.sink.pub.term_destination = sink_term;
  e.cinfo.dest = &e.sink.pub;
  e.cinfo.image_width = JDIMENSION(image.width);
  e.cinfo.image_height = JDIMENSION(image.height);
  e.cinfo.input_components = 3;
  e.cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&e.cinfo);
  jpeg_set_quality(&e.cinfo, quality, TRUE);
  if (quality > 90)
    for (int c = 0; c < e.cinfo.num_components; ++c)
      e.cinfo.comp_info[c].h_samp_factor = e.cinfo.comp_info[c].v_samp_factor = 1;
  jpeg_start_compress(&e.cinfo, TRUE);
  while (e.cinfo.next_scanline < e.cinfo.image_height) {
    // libjpeg's API takes non-const rows but only reads them.
    JSAMPROW row = const_cast<uint8_t*>(image.at(0, int(e.cinfo.next_scanline)));
    jpeg_write_scanlines(&e.cinfo, &row, 1);
  }
  jpeg_finish_compress(&e.cinfo);
  return true;
}

}  // namespace

bool looks_like_jpeg(const uint8_t* data, size_t size) { return size >= 2 && data[0] == 0xFF && data[1] == 0xD8; }

RgbImage decode_jpeg(const uint8_t* data, size_t size) {
  auto d = std::make_unique<Decoder>();
  if (!read_header(*d, data, size)) fail_with(*d);
  const int64_t width = d->cinfo.image_width, height = d->cinfo.image_height;
  // Checked before libjpeg allocates anything for the pixels (jpeg_start_decompress) or we do.
  if (width * height > kMaxImagePixels)
    SGML_FAIL("JPEG: declared size ", width, "x", height, " (", width * height, " pixels) is over the limit of ",
              kMaxImagePixels, " pixels (2^28); refusing to decode it");
  const int components = d->cinfo.num_components;
  if (components != 1 && components != 3 && components != 4)
    SGML_FAIL("JPEG: ", components, " colour components (only grayscale, 3-component colour and CMYK are supported)");
  d->cinfo.out_color_space = components == 4 ? JCS_CMYK : JCS_RGB;  // libjpeg replicates grayscale into RGB
  RgbImage image;
  image.width = int(width);
  image.height = int(height);
  image.pixels.resize(size_t(width * height * 3));
  std::vector<uint8_t> cmyk_row(components == 4 ? size_t(width) * 4 : 0);
  if (!read_pixels(*d, image.pixels.data(), cmyk_row.empty() ? nullptr : cmyk_row.data())) fail_with(*d);
  SGML_CHECK(d->cinfo.output_width == d->cinfo.image_width && d->cinfo.output_height == d->cinfo.image_height,
             "libjpeg scaled the image");
  return image;
}

std::vector<uint8_t> encode_jpeg_libjpeg(const RgbImage& image, int quality) {
  SGML_CHECK(quality >= 1 && quality <= 100, "JPEG quality must be 1..100, got ", quality);
  SGML_CHECK(
      image.width >= 1 && image.height >= 1 && image.width <= JPEG_MAX_DIMENSION && image.height <= JPEG_MAX_DIMENSION,
      "cannot encode a ", image.width, "x", image.height, " image as JPEG (1..", JPEG_MAX_DIMENSION, " per side)");
  SGML_CHECK(image.pixels.size() == size_t(image.width) * size_t(image.height) * 3, "RGB image of ", image.width, "x",
             image.height, " holds ", image.pixels.size(), " bytes");
  auto e = std::make_unique<Encoder>();
  if (!run_encode(*e, image, quality))
    SGML_FAIL("JPEG encoding of a ", image.width, "x", image.height, " image failed: ", e->error.message);
  return std::vector<uint8_t>(e->sink.data, e->sink.data + e->sink.used);
}

}  // namespace sgml
