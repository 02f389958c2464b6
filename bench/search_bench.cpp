// Evaluation cost at the papers' test-set sizes, on random features: the blocked kNN search (In-shop: 14,218
// queries x 12,612 gallery, CUB: 5,924 leave-one-out, SOP: 60,502 leave-one-out with the top 1,000 for
// Recall@1000, 512-d), whole evaluations, and k-means for NMI.
//
// usage: search_bench [cpu|cuda] [repeats] [all|sop] [sop_rows]
//   prints one JSON line per measurement (median milliseconds); `sop` runs only the SOP case, `sop_rows` shrinks its
//   test set (default 60502) for a quick check on a small machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"
#include "retrieval/knn_search.h"
#include "retrieval/metrics.h"

using namespace sgml;

namespace {

Tensor random_features(int64_t rows, int64_t d, unsigned seed, Device device) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(size_t(rows * d));
  for (float& x : v) x = normal(rng);
  return Tensor::from_vector(v, {rows, d}, device);
}

std::vector<int64_t> labels_in_classes(int64_t rows, int64_t classes) {
  std::vector<int64_t> l(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) l[size_t(i)] = i % classes;
  return l;
}

// Median wall time of `repeats` runs after one warm-up run (the warm-up pays for allocations and cuBLAS setup).
double median_ms(int repeats, const std::function<void()>& run) {
  run();
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();  // every measured call ends with a device-to-host copy of its results, so the GPU work is included
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void report(const char* what, const Device& device, double ms) {
  std::printf("{\"bench\": \"%s\", \"device\": \"%s\", \"median_ms\": %.2f}\n", what, device.str().c_str(), ms);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Device device = parse_device(argc > 1 ? argv[1] : "auto");
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 5;
  const std::string which = argc > 3 ? argv[3] : "all";
  const int64_t sop_rows = argc > 4 ? std::stoll(argv[4]) : 60502;
  const int64_t d = 512;
  if (which == "all" || which == "sop") {
    // SOP: 11,316 test classes of about 5 images; Recall@1000 needs each query's top 1,000 (of 60,501 others).
    const Tensor sop = random_features(sop_rows, d, 4, device);
    const int64_t classes = std::max<int64_t>(1, sop_rows * 11316 / 60502);
    const std::string rows = std::to_string(sop_rows);
    report(("sop_loo_knn_k1000_n" + rows).c_str(), device,
           median_ms(std::max(1, repeats / 5), [&] { knn_search(sop, sop, 1000, {true}); }));
    EvalOptions no_nmi;
    no_nmi.compute_nmi = false;
    report(("sop_eval_no_nmi_n" + rows).c_str(), device, median_ms(std::max(1, repeats / 5), [&] {
             evaluate_leave_one_out(sop, labels_in_classes(sop_rows, classes), {1, 10, 100, 1000}, device, no_nmi);
           }));
    if (which == "sop") return 0;
  }
  const Tensor inshop_q = random_features(14218, d, 1, device), inshop_g = random_features(12612, d, 2, device);
  const Tensor cub = random_features(5924, d, 3, device);
  for (int k : {1, 50, 64}) {
    const std::string name = "inshop_knn_k" + std::to_string(k);
    report(name.c_str(), device, median_ms(repeats, [&] { knn_search(inshop_q, inshop_g, k); }));
  }
  report("cub_loo_knn_k64", device, median_ms(repeats, [&] { knn_search(cub, cub, 64, {true}); }));
  EvalOptions no_nmi;
  no_nmi.compute_nmi = false;
  const std::vector<int> inshop_ks{1, 10, 20, 30, 40, 50}, cub_ks{1, 2, 4, 8};
  report("inshop_eval_no_nmi", device, median_ms(repeats, [&] {
           evaluate_retrieval(inshop_q, labels_in_classes(14218, 3985), inshop_g, labels_in_classes(12612, 3985),
                              inshop_ks, device, no_nmi);
         }));
  report("cub_eval_with_nmi", device, median_ms(std::max(1, repeats / 5), [&] {
           evaluate_leave_one_out(cub, labels_in_classes(5924, 100), cub_ks, device);
         }));
  return 0;
}
