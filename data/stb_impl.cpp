// The one definition of stb_image_write and stb_image_resize (Debian's v1 API) in the engine: every other file
// includes the headers without the IMPLEMENTATION macros. stb_image_write serves PNG only: JPEG is encoded (and
// decoded) by libjpeg-turbo (data/jpeg_codec.h), as stb_image_write's JPEG encoder shifts negative values
// (undefined behaviour). stb_image (decoding, non-JPEG formats) is a private copy in data/image_io.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
#pragma GCC diagnostic pop
