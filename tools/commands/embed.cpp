// sgml embed: features of images with a weights file, written as a float32 .npy (one row per image, in order).
#include <cstdio>

#include "engine/check.h"
#include "engine/npy.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "training/feature_extraction.h"
#include "training/model_loading.h"
#include "training/output_files.h"

namespace sgml {

int run_embed(int argc, char** argv) {
  Options opt("embed", "--checkpoint FILE --out FEATURES.npy [options] IMAGE...",
              "Decodes each image (JPEG/PNG, as RGB), applies the evaluation transform (--eval-resize: the\n"
              "training run's; 0 resizes straight to image-size x image-size, bilinear), normalises it with the\n"
              "ImageNet mean/std, runs the model in eval mode and writes the features as a float32 .npy of shape\n"
              "(images, feature dim), in input order.");
  declare_inference_options(opt);
  opt.add_required("out", "FEATURES.npy", "the .npy file the features are written to");
  if (!opt.parse(argc, argv, 2)) return 0;
  const InferenceArgs in = read_inference_options(opt);
  const std::string out = opt.get_required("out");
  const std::vector<std::string>& images = opt.positional();
  if (images.empty()) SGML_FAIL("no images given (sgml embed --checkpoint FILE --out FILE.npy IMAGE...)");
  create_parent_folder(out, "feature file");
  set_math_precision(in.precision);
  InferenceModel m = load_inference_model(opt, in);
  print_configuration("embed", opt);
  if (const std::string note = whole_image_note(m.loaded, "embed"); !note.empty())
    std::fprintf(stderr, "%s\n", note.c_str());
  m.settings.bad_image_hint = "";  // embed has no --skip-bad-images: one row per image, in input order
  const Tensor features = extract_features(*m.loaded.model, image_records(images), m.settings).features;
  const int64_t n = features.dim(0), dim = features.dim(1);
  const std::string& arch = m.loaded.model->config().arch;
  save_npy(out, features);
  std::fprintf(stderr, "sgml embed: %lld images, %s features of %lld dims (%s on %s) -> %s\n", (long long)n,
               m.feature.c_str(), (long long)dim, arch.c_str(), in.device.str().c_str(), out.c_str());
  return 0;
}

}  // namespace sgml
