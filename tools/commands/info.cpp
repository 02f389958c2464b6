// sgml info DATASET --data DIR: what a dataset folder holds (images and classes per split, attributes, tolerated
// defects, problems), as text or one JSON object.
#include <cstdio>

#include "data/dataset.h"
#include "data/dataset_info.h"
#include "engine/check.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"

namespace sgml {

int run_info(int argc, char** argv) {
  Options opt("info", "cub|deepfashion|sop|cars|demo|demo-cub [--data DIR] [options]",
              "Reads a dataset with the same readers as training and prints what it found: images and classes per\n"
              "split (CUB, SOP, Cars196: train/test by class; In-shop: train/query/gallery), the number of attributes, "
              "the defects\n"
              "the reader tolerated (with counts) and the problems found (missing image files, unretrievable test\n"
              "classes). A malformed file stops it with an error naming the file and line. demo and demo-cub are\n"
              "generated into demo_data/ on first use.");
  declare_dataset_options(opt);
  opt.add_flag("json", "print one JSON object");
  opt.add_flag("verify-images", "decode every image (and check its bounding box) instead of checking that it "
                                 "exists (slow on the real datasets)");
  opt.add("workers", "0", "threads for --verify-images (0: the machine's cores)");
  opt.add("cache-size", "0", "also report whether a decoded-image cache of this side is present (0: the image-size "
                             "of configs/DATASET.json)");
  if (!opt.parse(argc, argv, 2)) return 0;
  const DatasetArgs args = read_dataset_options(opt, "sgml info cub|deepfashion|sop|cars|demo|demo-cub");
  const std::string& kind = args.kind;
  const int workers = opt.get_int("workers", limits::kWorkers);  // checked before the demo data is generated
  const int cache_size = opt.get_image_size("cache-size", /*zero_means_auto=*/true);
  opt.set("cache-size", std::to_string(cache_size > 0 ? cache_size : default_image_size(kind)));
  const std::string dir = args.data.empty() ? default_data_dir(kind) : args.data;
  opt.set("data", dir);
  print_configuration("info", opt);
  if (ensure_demo_data(kind, dir))
    std::fprintf(stderr, "sgml info: generated the %s dataset into %s\n", kind.c_str(), dir.c_str());

  // A CUB copy without attribute files is listed (its tolerated defects say so): eval and the losses without the
  // BCE term use it.
  const Dataset dataset = load_dataset(kind, dir, args.crop_boxes, /*attributes_needed=*/false);
  DatasetInfoOptions options;
  options.verify_images = opt.get_flag("verify-images");
  options.workers = workers;
  options.cache_size = std::stoi(opt.get("cache-size"));
  const nlohmann::ordered_json info = dataset_info(dataset, options);
  if (opt.get_flag("json")) std::printf("%s\n", info.dump(2).c_str());
  else std::fputs(format_dataset_info(info).c_str(), stdout);
  return 0;
}

}  // namespace sgml
