// sgml embed: features of images with a weights file, written as a float32 .npy (one row per image, in order).
#include <cstdio>

#include "data/image_transform.h"
#include "engine/check.h"
#include "engine/npy.h"
#include "engine/safetensors.h"
#include "models/arch_detect.h"
#include "models/sgml_model.h"
#include "tools/commands/commands.h"
#include "tools/commands/options.h"
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

  const TensorMap tensors = load_weights_file(weights);  // validated; NaN/inf refused
  SgmlModelConfig config;
  config.arch = opt.get("model") == "auto" ? detect_resnet_arch(tensors, weights) : opt.get("model");
  const int k = detect_num_attributes(tensors);
  config.num_attributes = k > 0 ? k : 1;
  SgmlModel model(config);
  const bool has_head = model.load_weights(tensors, weights, /*require_head=*/false);
  if (feature != FeatureKind::Conv && !has_head)
    SGML_FAIL("'", weights, "' holds no SGML head (head.*): only --feature conv is meaningful; train a model for fc/emb");
  model.to(device);

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
               opt.get("feature").c_str(), (long long)dim, config.arch.c_str(), device.str().c_str(), out.c_str());
  return 0;
}

}  // namespace sgml
