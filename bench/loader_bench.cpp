// Loader throughput: training batches per second (decode or cache read, augment, resize, normalise) for 1..N
// worker threads, with and without the decoded-image cache, on generated data:
//   demo64     the built-in demo (In-shop layout, 1,120 JPEGs of 64 x 64) at the demo's model size 64
//   inshop256  In-shop-like 256 x 256 JPEGs (the real dataset's size) at the paper's model size 224
// Prints one JSON line per measurement: images/s and images/s per worker (per core when workers <= cores).
//
// usage: loader_bench [DIR] [max_workers] [passes]   (DIR: where the data is generated, default ./loader_bench_data)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "data/dataset.h"
#include "data/demo_generator.h"
#include "data/image_cache.h"
#include "data/inshop_reader.h"
#include "data/loader.h"
#include "data/samplers.h"

using namespace sgml;

namespace {

struct Variant {
  const char* name;
  DemoSpec spec;
  int model_size;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Images per second loading `passes` epochs of training batches (32 per batch, augmentation on).
double measure(const Dataset& d, int size, int workers, std::shared_ptr<const ImageCache> cache, int passes) {
  const int batch = 32;
  SequentialBatches order(int(d.train.size()), batch);
  const int64_t per_pass = order.num_batches();
  LoaderConfig c;
  c.image_size = size;
  c.augment = true;
  c.workers = workers;
  c.prefetch = 2;
  const auto start = std::chrono::steady_clock::now();
  Loader loader(
      d, d.train,
      [&](int64_t step) { return step < per_pass * passes ? order.batch(step % per_pass) : std::vector<int>{}; }, c,
      std::move(cache));
  int64_t images = 0;
  for (Batch b = loader.next(); b.size() > 0; b = loader.next()) images += b.size();
  return double(images) / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "loader_bench_data";
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int max_workers = argc > 2 ? std::atoi(argv[2]) : cores;
  const int passes = argc > 3 ? std::atoi(argv[3]) : 2;

  Variant demo{"demo64", DemoSpec::defaults(DemoLayout::InShop), 64};
  Variant large{"inshop256", DemoSpec::defaults(DemoLayout::InShop), 224};
  large.spec.train_items = 40;
  large.spec.test_items = 4;
  large.spec.width = large.spec.height = 256;
  for (const Variant& v : {demo, large}) {
    const std::string data = dir + "/" + v.name;
    auto t = std::chrono::steady_clock::now();
    write_demo_dataset(data, DemoLayout::InShop, v.spec);
    const double generate = seconds_since(t);
    Dataset d = read_inshop(data);
    t = std::chrono::steady_clock::now();
    const CacheBuildReport r = build_image_cache(d, default_cache_dir(d), v.model_size, cores, false);
    std::printf(
        "{\"variant\": \"%s\", \"train_images\": %zu, \"generate_s\": %.2f, \"prepare_s\": %.2f, "
        "\"prepare_images_per_s\": %.0f}\n",
        v.name, d.train.size(), generate, r.seconds, r.images / r.seconds);
    std::shared_ptr<const ImageCache> cache = find_image_cache(d, v.model_size);
    for (int workers = 1; workers <= max_workers; ++workers)
      for (bool cached : {false, true}) {
        measure(d, v.model_size, workers, cached ? cache : nullptr, 1);  // warm the page cache
        const double rate = measure(d, v.model_size, workers, cached ? cache : nullptr, passes);
        std::printf("{\"variant\": \"%s\", \"size\": %d, \"workers\": %d, \"cache\": %s, \"images_per_s\": %.0f, "
                    "\"images_per_s_per_worker\": %.0f}\n", v.name, v.model_size, workers, cached ? "true" : "false",
                    rate, rate / workers);
        std::fflush(stdout);
      }
  }
  return 0;
}
