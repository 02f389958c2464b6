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
  const std::string weights = in.checkpoint, out = opt.get_required("out");
  const std::vector<std::string>& images = opt.positional();
  if (images.empty()) SGML_FAIL("no images given (sgml embed --checkpoint FILE --out FILE.npy IMAGE...)");
  const int batch = in.batch_size;
  const Device device = in.device;
  set_math_precision(in.precision);
  create_parent_folder(out, "feature file");

  LoadedModel loaded = load_model_for_inference(weights, in.model, in.image_size, in.eval_resize, device);  // NaN/inf refused
  const std::string feature_name = resolve_feature(loaded, in.feature, weights);
  const FeatureKind feature = parse_feature(feature_name);
  opt.set("image-size", std::to_string(loaded.image_size));
  opt.set("eval-resize", std::to_string(loaded.eval_resize));
  opt.set("feature", feature_name);
  print_configuration("embed", opt);

  FeatureExtractionSettings s;
  s.image_size = loaded.image_size;
  s.eval_resize = loaded.eval_resize;
  s.feature = feature;
  s.batch_size = batch;
  s.workers = in.workers;
  s.bad_image_hint = "";  // embed has no --skip-bad-images: one row per image, in input order
  const Tensor features = extract_features(*loaded.model, image_records(images), s).features;
  const int64_t n = features.dim(0), dim = features.dim(1);
  const std::string& arch = loaded.model->config().arch;
  save_npy(out, features);
  std::fprintf(stderr, "sgml embed: %lld images, %s features of %lld dims (%s on %s) -> %s\n", (long long)n,
               feature_name.c_str(), (long long)dim, arch.c_str(), device.str().c_str(), out.c_str());
  return 0;
}

}  // namespace sgml
