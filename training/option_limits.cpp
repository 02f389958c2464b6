#include "training/option_limits.h"

#include <cmath>

#include "engine/check.h"

namespace sgml {

void check_int_range(long long value, IntRange range, const std::string& what) {
  if (value >= range.min && value <= range.max) return;
  if (range.max == INT_MAX && value > range.max)
    SGML_FAIL(what, " must be at most ", range.max, " (the largest int), got ", value);
  if (range.max == INT_MAX) {
    if (range.min == 0) SGML_FAIL(what, " must be zero or more, got ", value);
    if (range.min == 1) SGML_FAIL(what, " must be positive, got ", value);
    SGML_FAIL(what, " must be at least ", range.min, ", got ", value);
  }
  SGML_FAIL(what, " must be between ", range.min, " and ", range.max, ", got ", value);
}

void check_real_range(double value, RealRange range, const std::string& what) {
  if (!std::isfinite(value)) SGML_FAIL(what, " must be a finite number, got ", value);
  if (value > range.max) {
    if (range.max == FLT_MAX) SGML_FAIL(what, " must fit a float (at most ", FLT_MAX, "), got ", value);
    SGML_FAIL(what, " must be at most ", range.max, ", got ", value);
  }
  // A float keeps full precision down to FLT_MIN; below it a value loses digits and under about 1e-45 becomes 0
  // (--lr 1e-50 would train with a learning rate of 0).
  if (value != 0 && std::fabs(value) < FLT_MIN)
    SGML_FAIL(what, " must fit a float: ", value, " is nonzero but below the smallest normal float ", FLT_MIN);
  if (range.min_exclusive ? value > range.min : value >= range.min) return;
  if (range.min == -FLT_MAX) SGML_FAIL(what, " must fit a float (at least ", -FLT_MAX, "), got ", value);
  if (range.min == 0.0)
    SGML_FAIL(what, range.min_exclusive ? " must be positive" : " must be zero or more", ", got ", value);
  SGML_FAIL(what, " must be ", range.min_exclusive ? "above " : "at least ", range.min, ", got ", value);
}

void check_image_size(long long size, const std::string& what) {
  if (size >= limits::kImageSize.min && size <= limits::kImageSize.max) return;
  SGML_FAIL(what, " must be between ", limits::kImageSize.min, " and ", limits::kImageSize.max,
            " pixels (a ResNet needs at least 32; a larger input needs more memory than a batch can have), got ",
            size);
}

void check_batch_size(long long images, const std::string& what) {
  if (images >= limits::kBatchSize.min && images <= limits::kBatchSize.max) return;
  SGML_FAIL(what, " must hold between ", limits::kBatchSize.min, " and ", limits::kBatchSize.max, " images, got ",
            images);
}

}  // namespace sgml
