// Adam exactly as torch.optim.Adam (amsgrad off, maximize off): L2 weight decay added to the gradient, bias-corrected
// moments, and torch's order of float operations, so a run matches PyTorch step for step. The model lays out every
// parameter as a view into one flat buffer, and its gradients likewise, so a step is one fused kernel over P values.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace sgml {

struct AdamConfig {
  // Doubles, as torch keeps its hyper-parameters: the kernel receives the same float32 roundings torch makes
  // (e.g. 1 - beta1 is rounded once from the double, not computed in float).
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// The per-step scalars torch derives on the host (in double) and hands its float kernels.
struct AdamStepScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};
AdamStepScalars adam_step_scalars(const AdamConfig& config, double lr, int64_t step);

// One Adam step, t = `step` (1 for the first). All four tensors are flat F32 (P) on one device.
//   g = grad + wd θ;  m = β1 m + (1 - β1) g;  v = β2 v + (1 - β2) g²
//   θ -= (lr / (1 - β1^t)) m / (sqrt(v) / sqrt(1 - β2^t) + eps)
void adam_step(Tensor& params, Tensor& m, Tensor& v, const Tensor& grads, double lr, int64_t step,
               const AdamConfig& config);

// A range [begin, end) of the flat buffer that steps with its own learning rate and weight decay, as a torch param
// group: its rate is lr_scale times the step's `lr`, so a schedule scales it as torch's schedulers scale every
// group's rate (they are proportional to its initial rate when the floor is 0).
struct AdamGroup {
  int64_t begin = 0, end = 0;
  double lr_scale = 1.0;
  double weight_decay = 0.0;
};

// Owns the moments and the step counts of one flat parameter buffer (one count per group, as torch keeps one per
// parameter: a group restarted by restart_group counts from 0 again while the rest goes on).
class AdamOptimizer {
 public:
  AdamOptimizer(int64_t num_params, Device device, AdamConfig config = {});

  // Gives a range its own group (before the first step). Groups may not overlap; the rest of the buffer steps
  // with the config's weight decay at the step's lr.
  void add_group(const AdamGroup& group);
  // Changes the rate of the group that starts at `begin` (any time; 0 freezes its values: Divide & Conquer's masks
  // once the whole embedding trains). Throws when no group starts there.
  void set_group_lr_scale(int64_t begin, double lr_scale);
  // The group that starts at `begin` holds new parameters from now on: its moments and its step count start from
  // zero, as torch's for a param group removed and added again with new tensors (Divide & Conquer's learner masks,
  // made anew at each division). Throws when no group starts there.
  void restart_group(int64_t begin);
  // Parameters [begin, end) that no term of the loss reaches (head.attr under a loss without attributes): they never
  // step, as torch.optim.Adam skips a parameter whose .grad is None; stepping them with a zero gradient would let
  // weight decay shrink them and fill their moments. Before the first step; may not overlap a group. Not part of
  // state(): the trainer excludes the same ranges again when it resumes.
  void exclude(int64_t begin, int64_t end);

  // One step with learning rate `lr` (from the schedule); grads are left unchanged.
  void step(Tensor& params_flat, const Tensor& grads_flat, double lr);

  int64_t steps_taken() const { return step_; }  // by the default group (and by every group never restarted)
  const AdamConfig& config() const { return config_; }
  const Tensor& m() const { return m_; }  // (P) first moments
  const Tensor& v() const { return v_; }  // (P) second moments

  // Checkpoint state: "adam.m" (P) F32, "adam.v" (P) F32, "adam.step" () I64, and with groups "adam.group_steps"
  // (G) I64 (the groups' counts, by begin), on the CPU.
  TensorMap state() const;
  // Restores state() output (any device) read from `source` (a checkpoint's path, named in every error); throws
  // when P or G differs or a key is missing, changing nothing. A state without
  // "adam.group_steps" (written before groups counted their own steps) gives every group "adam.step".
  void load_state(const TensorMap& state, const std::string& source);

 private:
  // Throws unless [begin, end) lies in the buffer and overlaps no group and no excluded range.
  void check_range_is_free(int64_t begin, int64_t end, const char* what) const;

  AdamConfig config_;
  std::vector<AdamGroup> groups_;  // those of add_group, by begin; the rest of the buffer is the default group
  std::vector<int64_t> group_steps_;  // steps taken by groups_[g] since it was added or restarted
  std::vector<std::pair<int64_t, int64_t>> excluded_;  // [begin, end) ranges of exclude()
  Device device_;
  Tensor m_, v_;  // (P) each
  int64_t step_ = 0;  // steps taken by the default group
};

namespace cpu {
void adam_step(float* params, float* m, float* v, const float* grads, int64_t n, const AdamStepScalars& s);
}  // namespace cpu
namespace cuda {
void adam_step(float* params, float* m, float* v, const float* grads, int64_t n, const AdamStepScalars& s);
}  // namespace cuda

}  // namespace sgml
