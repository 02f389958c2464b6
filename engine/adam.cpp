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
  SGML_CHECK(step_ == 0, "an Adam parameter group is added before the first step");
  SGML_CHECK(group.begin >= 0 && group.begin < group.end && group.end <= m_.numel(), "Adam parameter group [",
             group.begin, ", ", group.end, ") outside the buffer of ", m_.numel(), " parameters");
  SGML_CHECK(group.lr_scale >= 0.0 && group.weight_decay >= 0.0,
             "an Adam parameter group's lr scale and weight decay must be >= 0");
  for (const AdamGroup& g : groups_)
    SGML_CHECK(group.end <= g.begin || group.begin >= g.end, "Adam parameter group [", group.begin, ", ", group.end,
               ") overlaps [", g.begin, ", ", g.end, ")");
  groups_.push_back(group);
  std::sort(groups_.begin(), groups_.end(), [](const AdamGroup& x, const AdamGroup& y) { return x.begin < y.begin; });
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

void AdamOptimizer::copy_moments(int64_t from, int64_t to, int64_t count) {
  SGML_CHECK(count >= 0 && from >= 0 && to >= 0 && from + count <= m_.numel() && to + count <= m_.numel(),
             "Adam moments [", from, ", ", from + count, ") to [", to, ", ", to + count, ") outside the buffer of ",
             m_.numel(), " parameters");
  SGML_CHECK(from + count <= to || to + count <= from || from == to, "Adam moments copied over themselves");
  if (count == 0 || from == to) return;
  m_.view(to, {count}).copy_from(m_.view(from, {count}));
  v_.view(to, {count}).copy_from(v_.view(from, {count}));
}

void AdamOptimizer::step(Tensor& params_flat, const Tensor& grads_flat, double lr) {
  SGML_CHECK(params_flat.device() == device_, "Adam state on ", device_.str(), ", parameters on ",
             params_flat.device().str());
  if (groups_.empty()) {
    adam_step(params_flat, m_, v_, grads_flat, lr, step_ + 1, config_);
  } else {
    check_shape(params_flat, m_.shape(), "Adam parameters");
    check_shape(grads_flat, m_.shape(), "Adam gradients");
    // The ranges in order: the default group (config_) fills the gaps between the added ones.
    auto step_range = [&](int64_t begin, int64_t end, double group_lr, double weight_decay) {
      if (begin == end) return;
      const Shape range{end - begin};
      Tensor p = params_flat.view(begin, range), m = m_.view(begin, range), v = v_.view(begin, range);
      AdamConfig c = config_;
      c.weight_decay = weight_decay;
      adam_step(p, m, v, grads_flat.view(begin, range), group_lr, step_ + 1, c);
    };
    int64_t done = 0;
    for (const AdamGroup& g : groups_) {
      step_range(done, g.begin, lr, config_.weight_decay);
      step_range(g.begin, g.end, lr * g.lr_scale, g.weight_decay);
      done = g.end;
    }
    step_range(done, m_.numel(), lr, config_.weight_decay);
  }
  ++step_;  // only after a successful step, so a failed one leaves the state as it was
}

TensorMap AdamOptimizer::state() const {
  Tensor step = Tensor::empty({}, Device::cpu(), DType::I64);
  step.data_i64()[0] = step_;
  return {{"adam.m", m_.to(Device::cpu())}, {"adam.v", v_.to(Device::cpu())}, {"adam.step", step}};
}

void AdamOptimizer::load_state(const TensorMap& state) {
  for (const char* key : {"adam.m", "adam.v", "adam.step"})
    SGML_CHECK(state.count(key), "Adam state without '", key, "'");
  const Tensor& m = state.at("adam.m");
  const Tensor& v = state.at("adam.v");
  const Tensor& step = state.at("adam.step");
  check_shape(m, m_.shape(), "Adam state adam.m");
  check_shape(v, v_.shape(), "Adam state adam.v");
  SGML_CHECK(step.dtype() == DType::I64 && step.numel() == 1, "Adam state adam.step must be one int64, got ",
             step.str());
  const int64_t t = step.to(Device::cpu()).data_i64()[0];
  SGML_CHECK(t >= 0, "Adam state with step ", t);
  m_.copy_from(m);
  v_.copy_from(v);
  step_ = t;
}

}  // namespace sgml
