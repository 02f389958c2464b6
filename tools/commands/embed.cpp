// sgml embed: features of images with a weights file, written as a float32 .npy (one row per image, in order).
#include <cstdio>

#include "data/image_transform.h"
#include "engine/check.h"
#include "engine/npy.h"
#include "models/sgml_model.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "training/model_loading.h"
#include "training/output_files.h"

namespace sgml {

int run_embed(int argc, char** argv) {
  Options opt("embed", "--checkpoint FILE --out FEATURES.npy [options] IMAGE...",
              "Decodes each image (JPEG/PNG, as RGB), resizes it to image-size x image-size (bilinear; an image\n"
              "already that size passes unchanged), normalises it with the ImageNet mean/std, runs the model in\n"
              "eval mode and writes the features as a float32 .npy of shape (images, feature dim), in input order.");
  declare_inference_options(opt);
  opt.add("out", "", "output .npy file");
  if (!opt.parse(argc, argv, 2)) return 0;
  const InferenceArgs in = read_inference_options(opt);
  const std::string weights = in.checkpoint, out = opt.get("out");
  if (out.empty()) SGML_FAIL("--out FEATURES.npy is required");
  const std::vector<std::string>& images = opt.positional();
  if (images.empty()) SGML_FAIL("no images given (sgml embed --checkpoint FILE --out FILE.npy IMAGE...)");
  const int batch = in.batch_size;
  const Device device = in.device;
  create_parent_folder(out, "feature file");

  LoadedModel loaded = load_model_for_inference(weights, in.model, in.image_size, device);  // NaN/inf refused
  const int size = loaded.image_size;
  const std::string feature_name = resolve_feature(loaded, in.feature);
  const FeatureKind feature = parse_feature(feature_name);
  if (feature != FeatureKind::Conv && !loaded.has_head)
    SGML_FAIL("'", weights, "' holds no SGML head (head.*): only --feature conv is meaningful; train a model for fc/emb");
  opt.set("image-size", std::to_string(size));
  opt.set("feature", feature_name);
  print_configuration("embed", opt);
  SgmlModel& model = *loaded.model;

  const int64_t n = static_cast<int64_t>(images.size()), dim = model.feature_dim(feature);
  Tensor features = Tensor::empty({n, dim});
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min<int64_t>(batch, n - start);
    Tensor input = Tensor::empty({count, 3, size, size});
    for (int64_t i = 0; i < count; ++i) {
      Tensor image = load_image_for_model(images[start + i], size);  // errors name the file
      input.view(i * 3 * size * size, {3, size, size}).copy_from(image);
    }
    Tensor f = model.extract(input.to(device), feature);
    features.view(start * dim, {count, dim}).copy_from(f);
  }
  save_npy(out, features);
  std::fprintf(stderr, "sgml embed: %lld images, %s features of %lld dims (%s on %s) -> %s\n", (long long)n,
               feature_name.c_str(), (long long)dim, model.config().arch.c_str(), device.str().c_str(), out.c_str());
  return 0;
}

}  // namespace sgml
