#include "engine/lr_schedule.h"

#include <cmath>

#include "engine/check.h"

namespace sgml {

LrScheduleKind parse_lr_schedule_kind(const std::string& name) {
  if (name == "constant") return LrScheduleKind::Constant;
  if (name == "step") return LrScheduleKind::Step;
  if (name == "cosine") return LrScheduleKind::Cosine;
  SGML_FAIL("unknown learning-rate schedule '", name, "': expected constant, step or cosine");
}

const char* lr_schedule_kind_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::Constant: return "constant";
    case LrScheduleKind::Step: return "step";
    case LrScheduleKind::Cosine: return "cosine";
  }
  return "?";
}

void LrSchedule::validate() const {
  SGML_CHECK(base_lr >= 0.0, "learning rate ", base_lr, " < 0");
  SGML_CHECK(warmup_steps >= 0, "warm-up of ", warmup_steps, " steps");
  SGML_CHECK(warmup_steps == 0 || (warmup_start_factor > 0.0 && warmup_start_factor <= 1.0),
             "warm-up start factor ", warmup_start_factor, " outside (0, 1]");
  if (kind == LrScheduleKind::Step) SGML_CHECK(step_size >= 1, "step schedule with step size ", step_size);
  if (kind == LrScheduleKind::Cosine)
    SGML_CHECK(total_steps > warmup_steps, "cosine schedule over ", total_steps, " steps with ", warmup_steps,
               " of warm-up: nothing left to anneal");
}

double LrSchedule::lr_at(int64_t t) const {
  validate();
  SGML_CHECK(t >= 0, "learning rate of step ", t);
  if (t < warmup_steps) {
    const double w = static_cast<double>(warmup_steps);
    return base_lr * (warmup_start_factor + (1.0 - warmup_start_factor) * static_cast<double>(t) / w);
  }
  const int64_t u = t - warmup_steps;
  switch (kind) {
    case LrScheduleKind::Constant:
      return base_lr;
    case LrScheduleKind::Step:
      return base_lr * std::pow(gamma, static_cast<double>(u / step_size));
    case LrScheduleKind::Cosine: {
      const int64_t period = total_steps - warmup_steps;
      if (u >= period) return min_lr;
      const double pi = 3.14159265358979323846;
      return min_lr + (base_lr - min_lr) * (1.0 + std::cos(pi * static_cast<double>(u) / period)) / 2.0;
    }
  }
  return base_lr;
}

}  // namespace sgml
