// Learning-rate schedules, as closed forms of torch.optim.lr_scheduler stepped once per optimiser step:
//   constant
//   step:   base * gamma^floor(u / step_size)                                  (StepLR)
//   cosine: floor + (base - floor) (1 + cos(pi u / T)) / 2, T = total - warm-up   (CosineAnnealingLR, eta_min = floor)
// with an optional linear warm-up of W steps before them (LinearLR(start_factor, 1.0, total_iters=W), then the main
// schedule restarted at u = t - W, as SequentialLR with milestone W). Being closed forms, a resumed run gets the
// same rates as an uninterrupted one from the step count alone.
#pragma once
#include <cstdint>
#include <string>

namespace sgml {

enum class LrScheduleKind { Constant, Step, Cosine };
LrScheduleKind parse_lr_schedule_kind(const std::string& name);  // "constant" | "step" | "cosine"
const char* lr_schedule_kind_name(LrScheduleKind kind);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::Constant;
  double base_lr = 1e-4;
  int64_t step_size = 1;              // step: optimiser steps between drops (the trainer converts epochs)
  double gamma = 0.1;                 // step: factor of each drop
  int64_t total_steps = 0;            // cosine: steps of the whole run, warm-up included
  double min_lr = 0.0;                // cosine: the floor (eta_min); held after total_steps instead of rising again
  int64_t warmup_steps = 0;           // W; 0 = none
  double warmup_start_factor = 1e-3;  // warm-up starts at base_lr * this and rises linearly to base_lr at t = W

  // The rate of optimiser step t, counted from 0 (the first step). Throws on an inconsistent schedule.
  double lr_at(int64_t t) const;
  void validate() const;
};

}  // namespace sgml
