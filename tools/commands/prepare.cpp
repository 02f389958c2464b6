// sgml prepare DATASET --data DIR: the decoded-image cache (data/image_cache.h), so that training decodes no JPEG.
#include <cstdio>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "engine/check.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"

namespace sgml {

int run_prepare(int argc, char** argv) {
  Options opt("prepare", "cub|deepfashion|sop|cars|demo|demo-cub [--data DIR] [options]",
              "Decodes every image of the dataset once, crops it to its bounding box (CUB unless --crop-boxes\n"
              "false; Cars196 with --crop-boxes: training and evaluation then need the same crop to use the cache)\n"
              "and resizes it to size x size (stb triangle filter, as the training transform), into one\n"
              "memory-mapped file plus a JSON index in DIR/sgml_cache/. Training and evaluation at that image size\n"
              "then read it instead of decoding (they say so when they do). Use the model's --image-size: the\n"
              "evaluation input is then identical. Training's random crops then cut the resized square instead of\n"
              "the original image: a run with the cache sees other pixels than one without, and its figures differ.\n"
              "The index records each file's size and modification time: once an image file changes, the cache\n"
              "is not used (runs say which file) until prepare runs again; a file that is gone is served from it.");
  declare_dataset_options(opt);
  opt.add("size", "0", "side of the cached images in pixels (0: the image-size of configs/DATASET.json)");
  opt.add("out", "", "cache folder", "DIR/sgml_cache, where training looks");
  opt.add("workers", "0", "decoding threads (0: the machine's cores)");
  opt.add_flag("skip-bad-images",
               "record unreadable images as bad in the index instead of stopping (train and eval then "
               "stop on them, or with their own --skip-bad-images replace them within the class / leave them out of "
               "the ranking)");
  if (!opt.parse(argc, argv, 2)) return 0;
  const DatasetArgs args = read_dataset_options(opt, "sgml prepare cub|deepfashion|sop|cars|demo|demo-cub");
  const int requested_size = opt.get_image_size("size", /*zero_means_auto=*/true);
  const int workers = opt.get_int("workers", limits::kWorkers);
  const Dataset dataset = load_dataset(args.kind, args.data, args.crop_boxes, /*attributes_needed=*/false);
  const int size = requested_size > 0 ? requested_size : default_image_size(args.kind);
  const std::string out = opt.get("out").empty() ? default_cache_dir(dataset) : opt.get("out");
  opt.set("data", dataset.root);
  opt.set("size", std::to_string(size));
  opt.set("out", out);
  print_configuration("prepare", opt);
  std::fprintf(stderr, "sgml prepare: decoding %zu images of %s at %dx%d into %s\n", cache_order(dataset).size(),
               dataset.root.c_str(), size, size, out.c_str());
  const CacheBuildReport r = build_image_cache(dataset, out, size, workers, opt.get_flag("skip-bad-images"));
  std::printf("sgml prepare: %d images (%d bad) in %.1f s -> %s\n", r.images, r.bad, r.seconds, r.index_path.c_str());
  return 0;
}

}  // namespace sgml
