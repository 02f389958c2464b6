// sgml embed: features of images with a weights file, written as a float32 .npy (one row per image, in order).
#include <cstdio>

#include "engine/check.h"
#include "engine/npy.h"
#include "tools/commands/commands.h"
#include "tools/commands/options.h"
#include "training/feature_extraction.h"
#include "training/model_loading.h"
#include "training/output_files.h"

namespace sgml {

int run_embed(int argc, char** argv) {
  Options opt("embed", "--weights FILE --out FEATURES.npy [options] IMAGE...",
              "Decodes each image (JPEG/PNG, as RGB), resizes it to image-size x image-size (bilinear; an image\n"
              "already that size passes unchanged), normalises it with the ImageNet mean/std, runs the model in\n"
              "eval mode and writes the features as a float32 .npy of shape (images, feature dim), in input order.");
  opt.add("weights", "", "safetensors file with torchvision names (converted torchvision weights or a trained model)");
  opt.add("model", "auto", "resnet18|resnet34|resnet50|resnet101|resnet152, or auto (from the weights' keys)");
  opt.add("feature", "conv", "conv (pooled backbone) | fc (1024-d head) | emb (512-d embedding); fc and emb need a trained head");
  opt.add("image-size", "224", "side of the square model input in pixels");
  opt.add("device", "auto", "cpu | cuda | auto (cuda when a GPU is usable)");
  opt.add("batch-size", "32", "images per forward pass");
  opt.add("out", "", "output .npy file");
  if (!opt.parse(argc, argv, 2)) return 0;
  const std::string weights = opt.get("weights"), out = opt.get("out");
  if (weights.empty()) SGML_FAIL("--weights FILE is required (see weights/README.md for how to get ImageNet weights)");
  if (out.empty()) SGML_FAIL("--out FEATURES.npy is required");
  const std::vector<std::string>& images = opt.positional();
  if (images.empty()) SGML_FAIL("no images given (sgml embed --weights FILE --out FILE.npy IMAGE...)");
  const int size = opt.get_image_size("image-size"), batch = opt.get_int("batch-size", limits::kBatchSize);
  create_parent_folder(out, "feature file");
  const FeatureKind feature = parse_feature(opt.get("feature"));
  const Device device = parse_device(opt.get("device"));

  LoadedModel loaded = load_model_for_inference(weights, opt.get("model"), size, device);
  if (feature != FeatureKind::Conv && !loaded.has_head)
    SGML_FAIL("'", weights, "' holds no SGML head (head.*): only --feature conv is meaningful; train a model for fc/emb");
  FeatureExtractionSettings s;
  s.image_size = loaded.image_size;
  s.feature = feature;
  s.batch_size = batch;
  s.bad_image_hint = "";  // embed has no --skip-bad-images: one row per image, in input order
  const Tensor features = extract_features(*loaded.model, image_records(images), s).features;
  const int64_t n = features.dim(0), dim = features.dim(1);
  const std::string& arch = loaded.model->config().arch;
  save_npy(out, features);
  std::fprintf(stderr, "sgml embed: %lld images, %s features of %lld dims (%s on %s) -> %s\n", (long long)n,
               opt.get("feature").c_str(), (long long)dim, arch.c_str(), device.str().c_str(), out.c_str());
  return 0;
}

}  // namespace sgml
