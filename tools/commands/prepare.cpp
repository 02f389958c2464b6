// sgml prepare DATASET --data DIR: the decoded-image cache (data/image_cache.h), so that training decodes no JPEG.
#include <cstdio>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "engine/check.h"
#include "tools/commands/commands.h"
#include "tools/commands/options.h"

namespace sgml {

int run_prepare(int argc, char** argv) {
  Options opt("prepare", "cub|deepfashion|demo|demo-cub [--data DIR] [options]",
              "Decodes every image of the dataset once, crops it to its bounding box (CUB) and resizes it to\n"
              "size x size (stb triangle filter, as the training transform), into one memory-mapped file plus a JSON\n"
              "index in DIR/sgml_cache/. Training and evaluation at that image size then read it instead of decoding\n"
              "(they say so when they do). Use the model's --image-size: the evaluation input is then identical.");
  opt.add("data", "", "dataset folder (default: demo_data/inshop for demo, demo_data/cub for demo-cub)");
  opt.add("size", "0", "side of the cached images in pixels (0: 64 for the demos, 224 otherwise: the configs' image-size)");
  opt.add("out", "", "cache folder (default: DIR/sgml_cache, where training looks)");
  opt.add("workers", "0", "decoding threads (0: the machine's cores)");
  opt.add_flag("skip-bad-images", "record unreadable images as bad in the index instead of stopping (train and eval then "
               "stop on them, or with their own --skip-bad-images replace them within the class / leave them out of the ranking)");
  if (!opt.parse(argc, argv, 2)) return 0;
  SGML_CHECK(opt.positional().size() == 1, "say which dataset: sgml prepare cub|deepfashion|demo|demo-cub (see --help)");
  const std::string kind = opt.positional()[0];
  const Dataset dataset = load_dataset(kind, opt.get("data"));
  const int requested_size = opt.get_image_size("size", /*zero_means_auto=*/true);
  const int size = requested_size > 0 ? requested_size : is_demo_kind(kind) ? 64 : 224;
  const std::string out = opt.get("out").empty() ? default_cache_dir(dataset) : opt.get("out");
  std::fprintf(stderr, "sgml prepare: decoding %zu images of %s at %dx%d into %s\n", cache_order(dataset).size(),
               dataset.root.c_str(), size, size, out.c_str());
  const CacheBuildReport r = build_image_cache(dataset, out, size, opt.get_int("workers", limits::kWorkers), opt.get_flag("skip-bad-images"));
  std::printf("sgml prepare: %d images (%d bad) in %.1f s -> %s\n", r.images, r.bad, r.seconds, r.index_path.c_str());
  return 0;
}

}  // namespace sgml
