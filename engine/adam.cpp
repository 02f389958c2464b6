#include "engine/adam.h"

#include <algorithm>
#include <cmath>

#include "engine/dispatch.h"

namespace sgml {

AdamStepScalars adam_step_scalars(const AdamConfig& c, double lr, int64_t step) {
  SGML_CHECK(step >= 1, "Adam step ", step, ": steps count from 1");
  // torch: bias_correction1 = 1 - beta1 ** step (Python floats), step_size = lr / bias_correction1,
  // bias_correction2_sqrt = math.sqrt(1 - beta2 ** step); each reaches the kernel as one float.
  const double t = static_cast<double>(step);
  AdamStepScalars s;
  s.beta1 = static_cast<float>(c.beta1);
  s.one_minus_beta1 = static_cast<float>(1.0 - c.beta1);
  s.beta2 = static_cast<float>(c.beta2);
  s.one_minus_beta2 = static_cast<float>(1.0 - c.beta2);
  s.eps = static_cast<float>(c.eps);
  s.weight_decay = static_cast<float>(c.weight_decay);
  s.step_size = static_cast<float>(lr / (1.0 - std::pow(c.beta1, t)));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(c.beta2, t)));
  return s;
}

void adam_step(Tensor& params, Tensor& m, Tensor& v, const Tensor& grads, double lr, int64_t step,
               const AdamConfig& config) {
  OpScope op("adam_step");
  check_defined(params, "adam_step params");
  const Shape flat{params.numel()};
  SGML_CHECK(params.ndim() == 1, "adam_step needs a flat parameter buffer, got ", shape_str(params.shape()));
  check_shape(m, flat, "adam_step m");
  check_shape(v, flat, "adam_step v");
  check_shape(grads, flat, "adam_step grads");
  check_same_device(params, m, "adam_step");
  check_same_device(params, v, "adam_step");
  check_same_device(params, grads, "adam_step");
  const AdamStepScalars s = adam_step_scalars(config, lr, step);
  SGML_DISPATCH(params, adam_step, params.data(), m.data(), v.data(), grads.data(), params.numel(), s);
}

AdamOptimizer::AdamOptimizer(int64_t num_params, Device device, AdamConfig config)
    : config_(config),
      device_(device),
      m_(Tensor::zeros({num_params}, device)),
      v_(Tensor::zeros({num_params}, device)) {
  SGML_CHECK(config.beta1 >= 0.0 && config.beta1 < 1.0 && config.beta2 >= 0.0 && config.beta2 < 1.0,
             "Adam betas must lie in [0, 1), got ", config.beta1, " and ", config.beta2);
  SGML_CHECK(config.eps >= 0.0 && config.weight_decay >= 0.0, "Adam eps and weight decay must be >= 0");
}

void AdamOptimizer::add_group(const AdamGroup& group) {
  SGML_CHECK(step_ == 0, "Adam parameter group [", group.begin, ", ", group.end, ") added after step ", step_,
             "; groups must be added before the first step");
  check_range_is_free(group.begin, group.end, "Adam parameter group");
  SGML_CHECK(group.lr_scale >= 0.0 && group.weight_decay >= 0.0, "Adam parameter group [", group.begin, ", ", group.end,
             "): lr scale and weight decay must be >= 0, got ", group.lr_scale, " and ", group.weight_decay);
  groups_.push_back(group);
  std::sort(groups_.begin(), groups_.end(), [](const AdamGroup& x, const AdamGroup& y) { return x.begin < y.begin; });
  group_steps_.assign(groups_.size(), 0);  // no step taken yet
}

void AdamOptimizer::exclude(int64_t begin, int64_t end) {
  SGML_CHECK(step_ == 0, "excluded Adam range [", begin, ", ", end, ") added after step ", step_,
             "; parameters must be excluded before the first step");
  check_range_is_free(begin, end, "excluded Adam range");
  excluded_.emplace_back(begin, end);
}

void AdamOptimizer::check_range_is_free(int64_t begin, int64_t end, const char* what) const {
  SGML_CHECK(begin < end, what, " [", begin, ", ", end, ") is empty: its begin must be less than its end");
  SGML_CHECK(begin >= 0 && end <= m_.numel(), what, " [", begin, ", ", end, ") outside the buffer of ", m_.numel(),
             " parameters");
  for (const AdamGroup& g : groups_)
    SGML_CHECK(end <= g.begin || begin >= g.end, what, " [", begin, ", ", end, ") overlaps the group [", g.begin,
               ", ", g.end, ")");
  for (const auto& [b, e] : excluded_)
    SGML_CHECK(end <= b || begin >= e, what, " [", begin, ", ", end, ") overlaps the excluded range [", b, ", ", e,
               ")");
}

void AdamOptimizer::set_group_lr_scale(int64_t begin, double lr_scale) {
  SGML_CHECK(lr_scale >= 0.0, "an Adam parameter group's lr scale must be >= 0, got ", lr_scale);
  for (AdamGroup& g : groups_)
    if (g.begin == begin) {
      g.lr_scale = lr_scale;
      return;
    }
  SGML_FAIL("no Adam parameter group starts at ", begin);
}

void AdamOptimizer::restart_group(int64_t begin) {
  for (size_t g = 0; g < groups_.size(); ++g)
    if (groups_[g].begin == begin) {
      const Shape range{groups_[g].end - begin};
      m_.view(begin, range).zero_();
      v_.view(begin, range).zero_();
      group_steps_[g] = 0;
      return;
    }
  SGML_FAIL("no Adam parameter group starts at ", begin);
}

void AdamOptimizer::step(Tensor& params_flat, const Tensor& grads_flat, double lr) {
  SGML_CHECK(params_flat.device() == device_, "Adam state on ", device_.str(), ", parameters on ",
             params_flat.device().str());
  if (groups_.empty() && excluded_.empty()) {
    adam_step(params_flat, m_, v_, grads_flat, lr, step_ + 1, config_);
  } else {
    check_shape(params_flat, m_.shape(), "Adam parameters");
    check_shape(grads_flat, m_.shape(), "Adam gradients");
    // The groups and the excluded ranges in order; the default group (config_) fills the gaps between them.
    struct Range {
      int64_t begin, end;
      const AdamGroup* group;  // null: excluded, no step
      int64_t steps;
    };
    std::vector<Range> ranges;
    for (size_t g = 0; g < groups_.size(); ++g)
      ranges.push_back({groups_[g].begin, groups_[g].end, &groups_[g], group_steps_[g]});
    for (const auto& [begin, end] : excluded_) ranges.push_back({begin, end, nullptr, 0});
    std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.begin < y.begin; });
    auto step_range = [&](int64_t begin, int64_t end, double group_lr, double weight_decay, int64_t steps) {
      if (begin == end) return;
      const Shape range{end - begin};
      Tensor p = params_flat.view(begin, range), m = m_.view(begin, range), v = v_.view(begin, range);
      AdamConfig c = config_;
      c.weight_decay = weight_decay;
      adam_step(p, m, v, grads_flat.view(begin, range), group_lr, steps + 1, c);
    };
    int64_t done = 0;
    for (const Range& r : ranges) {
      step_range(done, r.begin, lr, config_.weight_decay, step_);
      if (r.group) step_range(r.begin, r.end, lr * r.group->lr_scale, r.group->weight_decay, r.steps);
      done = r.end;
    }
    step_range(done, m_.numel(), lr, config_.weight_decay, step_);
  }
  // Only after a successful step, so a failed one leaves the state as it was.
  ++step_;
  for (int64_t& steps : group_steps_) ++steps;
}

TensorMap AdamOptimizer::state() const {
  Tensor step = Tensor::empty({}, Device::cpu(), DType::I64);
  step.data_i64()[0] = step_;
  TensorMap state = {{"adam.m", m_.to(Device::cpu())}, {"adam.v", v_.to(Device::cpu())}, {"adam.step", step}};
  if (!groups_.empty()) {
    Tensor steps = Tensor::empty({int64_t(groups_.size())}, Device::cpu(), DType::I64);
    std::copy(group_steps_.begin(), group_steps_.end(), steps.data_i64());
    state["adam.group_steps"] = steps;
  }
  return state;
}

void AdamOptimizer::load_state(const TensorMap& state, const std::string& source) {
  const std::string where = str_cat("'", source, "': the optimiser state");
  for (const char* key : {"adam.m", "adam.v", "adam.step"})
    if (!state.count(key)) SGML_FAIL(where, " lacks '", key, "'");
  const Tensor& m = state.at("adam.m");
  const Tensor& v = state.at("adam.v");
  const Tensor& step = state.at("adam.step");
  for (const auto& [key, t] : {std::pair<const char*, const Tensor*>{"adam.m", &m}, {"adam.v", &v}})
    if (t->shape() != m_.shape() || t->dtype() != DType::F32)
      SGML_FAIL(where, " has ", key, " of ", t->str(), "; this model's optimiser needs float32 ", shape_str(m_.shape()),
                " (one value per parameter: is it a checkpoint of another model?)");
  if (step.dtype() != DType::I64 || step.numel() != 1)
    SGML_FAIL(where, " has adam.step of ", step.str(), "; expected one int64");
  const int64_t t = step.to(Device::cpu()).data_i64()[0];
  if (t < 0) SGML_FAIL(where, " has adam.step ", t, "; expected a count of steps (>= 0)");
  std::vector<int64_t> group_steps(groups_.size(), t);
  if (state.count("adam.group_steps")) {
    const Tensor steps = state.at("adam.group_steps").to(Device::cpu());
    if (steps.dtype() != DType::I64 || steps.ndim() != 1 || steps.numel() != int64_t(groups_.size()))
      SGML_FAIL(where, " has adam.group_steps of ", steps.str(), "; this run's optimiser has ", groups_.size(),
                " parameter group(s) and needs one int64 step count for each");
    for (size_t g = 0; g < groups_.size(); ++g) {
      group_steps[g] = steps.data_i64()[g];
      if (group_steps[g] < 0 || group_steps[g] > t)
        SGML_FAIL(where, " has group step ", group_steps[g], " for group ", g, ", outside [0, ", t,
                  "] (adam.step, the total)");
    }
  }
  m_.copy_from(m);
  v_.copy_from(v);
  step_ = t;
  group_steps_ = group_steps;
}

}  // namespace sgml
