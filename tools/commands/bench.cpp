// sgml bench: our side of the side-by-side benchmarks in bench/ (the PyTorch side is bench/torch_sgml_step.py).
//   train: the whole SGML training step (forward, SBDL + lambda*BCE over all pairs, backward, Adam) on random data
//   eval:  feature extraction in eval mode
// Reports the median step time over --steps after --warmup, images per second and peak memory (the GPU's, or on the
// CPU the process's resident peak). With --profile,
// a few more steps run with op profiling on (engine/op_profile.h) and a table says which ops the step's time goes to.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>

#include <sys/resource.h>

#include "engine/adam.h"
#include "engine/check.h"
#include "engine/gpu_memory.h"
#include "engine/math_precision.h"
#include "engine/op_profile.h"
#include "models/sgml_model.h"
#include "tools/commands/commands.h"
#include "tools/commands/option_groups.h"
#include "tools/commands/train_options.h"
#include "training/train_step.h"

namespace sgml {

namespace {

double host_peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0;  // KiB on Linux
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Runs `steps` steps with op profiling on and prints, per op, its calls and milliseconds per step, slowest first;
// the rest of the profiled step's time is the last line: on the CPU host work between ops, on a GPU the time the
// device spent outside the ops (idle while the host launches and allocates, or in copies and memsets).
template <class Step>
void print_op_profile(Step step, Device device, int steps) {
  reset_op_profile();
  set_op_profiling(true);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  synchronize(device);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  set_op_profiling(false);
  double in_ops = 0;
  std::printf("op profile (%d steps; %s)\n", steps,
              device.is_cuda() ? "GPU time of each op from CUDA events, nothing waited for inside a step"
                               : "wall time of each op");
  std::printf("%-32s %10s %12s %8s\n", "op", "calls/step", "ms/step", "share");
  for (const OpTotal& t : op_profile()) {
    const double ms = t.seconds / steps * 1e3;
    in_ops += t.seconds / steps;
    std::printf("%-32s %10.1f %12.3f %7.1f%%\n", t.op.c_str(), double(t.calls) / steps, ms,
                100.0 * t.seconds / steps / total);
  }
  std::printf("%-32s %10s %12.3f %7.1f%%\n", "(outside ops)", "", (total - in_ops) * 1e3,
              100.0 * (total - in_ops) / total);
  std::printf("%-32s %10s %12.3f\n", "profiled step", "", total * 1e3);
}

}  // namespace

int run_bench(int argc, char** argv) {
  Options opt("bench", "train|eval [options]",
              "Times our training step or feature extraction on random data (compare with bench/torch_sgml_step.py\n"
              "on the same GPU in the same session; see BENCHMARKS.md).");
  // The model and batch of a training run, with train's names and defaults (the paper's DeepFashion batch).
  const std::vector<std::string> shared = {"model",     "image-size",        "device",
                                           "precision", "classes-per-batch", "images-per-class"};
  declare_config_options(opt, shared);
  opt.add("batch-size", "256", "images per forward pass (eval; BENCHMARKS.md's figure is at 256)");
  opt.add("attributes", "463", "attributes K (463: DeepFashion)");
  opt.add("warmup", "5", "untimed steps first");
  opt.add("steps", "20", "timed steps");
  opt.add_flag("json", "print one JSON object");
  opt.add_flag("profile", "then profile a few steps op by op and print where the time goes");
  if (!opt.parse(argc, argv, 2)) return 0;
  SGML_CHECK(opt.positional().size() == 1, "say what to time: sgml bench train|eval");
  const std::string what = opt.positional()[0];
  SGML_CHECK(what == "train" || what == "eval", "unknown benchmark '", what, "': expected train or eval");
  // Every size is bounded before anything is allocated (the products below then fit int and size_t).
  TrainConfig config;
  read_config_options(opt, config, shared);
  const Device device = parse_device(config.device);
  const MathPrecision precision = parse_math_precision(config.precision);
  set_math_precision(precision);
  const int size = config.image_size, k = opt.get_int("attributes", limits::kAttributes);
  const int per_class = config.images_per_class;
  const int batch = what == "train" ? config.batch_size() : opt.get_int("batch-size", limits::kBatchSize);
  if (what == "train")
    check_batch_size(batch, str_cat("the batch of --classes-per-batch x --images-per-class = ",
                                    config.classes_per_batch, " x ", per_class));
  const int warmup = opt.get_int("warmup", limits::kNonNegative), steps = opt.get_int("steps", limits::kPositive);
  print_configuration("bench", opt);

  SgmlModel model({config.model, k});
  model.to(device);
  // Gradients and Adam's moments (three more copies of the weights) only where they are used: extraction holds the
  // weights and activations alone, as `sgml eval` and `sgml embed` do.
  std::optional<AdamOptimizer> adam;
  if (what == "train") {
    model.store().flatten();
    adam.emplace(model.store().parameter_count(), device);
  }
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<float> pixels(size_t(batch) * 3 * size_t(size) * size_t(size)), targets(size_t(batch) * size_t(k));
  for (float& p : pixels) p = normal(rng);
  for (float& t : targets) t = (rng() & 1) ? 1.0f : 0.0f;
  const Tensor images = Tensor::from_vector(pixels, {batch, 3, size, size}, device);
  const Tensor attr = Tensor::from_vector(targets, {batch, k}, device);
  std::vector<int64_t> labels(batch);
  for (int i = 0; i < batch; ++i) labels[i] = i / per_class;

  const TrainBatch train_batch{images, labels, attr};
  int64_t step_number = 0;
  auto step = [&] {
    if (what == "eval") {
      model.extract(images, FeatureKind::Emb);
      return;
    }
    train_step(model, *adam, ObjectiveConfig{}, train_batch, 1e-4, ++step_number);  // the trainer's own step
  };
  for (int i = 0; i < warmup; ++i) step();
  synchronize(device);
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    synchronize(device);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  const double med = median(times);
  // The GPU's peak for a CUDA run; on the CPU the process's peak resident memory (as bench/torch_sgml_step.py).
  const double peak_gib = (device.is_cuda() ? double(gpu_peak_bytes_in_use()) : host_peak_resident_bytes()) /
                          double(1ull << 30);
  if (opt.get_flag("json")) {
    std::printf("{\"framework\": \"sgml\", \"what\": \"%s\", \"device\": \"%s\", \"model\": \"%s\", "
                "\"precision\": \"%s\", \"batch\": %d, \"size\": %d, \"step_ms_median\": %.3f, "
                "\"images_per_s\": %.2f, \"peak_mem_gib\": %.3f}\n",
                what.c_str(), device.str().c_str(), config.model.c_str(), math_precision_name(precision), batch, size,
                med * 1e3, batch / med, peak_gib);
  } else {
    std::printf("sgml %s %s on %s: %.1f img/s, step %.1f ms (median of %zu), peak memory %.2f GiB\n",
                what.c_str(), math_precision_name(precision), device.str().c_str(), batch / med, med * 1e3,
                times.size(), peak_gib);
  }
  if (opt.get_flag("profile")) print_op_profile(step, device, 3);
  return 0;
}

}  // namespace sgml
