// The one definition of stb_image_write and stb_image_resize (Debian's v1 API) in the engine: every other file
// includes the headers without the IMPLEMENTATION macros. Checked before adding: nothing under data/ defined them.
// stb_image (decoding) is not defined here: data/ owns STB_IMAGE_IMPLEMENTATION (see retrieval/image_io.cpp).
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
