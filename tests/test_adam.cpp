// Adam against torch.optim.Adam over several steps (several parameter tensors laid out in one flat buffer,
// gradients read per step from the same file the reference reads), checkpoint state round trips, the CUDA twin
// against the CPU one, and the learning-rate schedules against torch.optim.lr_scheduler.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "engine/adam.h"
#include "engine/check.h"
#include "engine/device.h"
#include "engine/lr_schedule.h"
#include "engine/safetensors.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// ---------------------------------------------------------------- Adam vs torch

struct AdamCase {
  std::string name;
  AdamConfig config;
  std::vector<double> lrs;  // one per step
  // Param groups by parameter tensor index, with their lr scale and weight decay (torch's param groups).
  struct Group {
    std::vector<size_t> tensors;
    double lr_scale, weight_decay;
    std::vector<int> restart_at = {};  // steps before which the group holds new tensors (torch: a new param group)
  };
  std::vector<Group> groups;
  // Parameter tensors no loss reaches: excluded from our steps, given no .grad in torch (which skips them).
  std::vector<size_t> excluded = {};
};

// Parameter tensors of the cases: a conv-like weight, a bias, a tensor whose gradients are ~1e-9 (sqrt(v) below
// eps, so eps matters), and one whose gradients are all zero (only weight decay moves it).
const std::vector<Shape> kParamShapes = {{4, 3, 3, 3}, {7}, {5, 6}, {3}};
constexpr int kTinyGrad = 2, kZeroGrad = 3;

Tensor gradient_for(size_t k, const Shape& shape, unsigned seed) {
  if (k == kZeroGrad) return Tensor::zeros(shape);
  Tensor g = test::random_tensor(shape, seed, -1.0f, 1.0f);
  if (k == kTinyGrad)
    for (int64_t e = 0; e < g.numel(); ++e) g.data()[e] *= 1e-9f;
  return g;
}

// The flat buffer of `tensors` laid out one after the other, each copied through a view (as the model will).
Tensor flat_of(const std::vector<Tensor>& tensors) {
  int64_t total = 0;
  for (const auto& t : tensors) total += t.numel();
  Tensor flat = Tensor::empty({total});
  int64_t offset = 0;
  for (const auto& t : tensors) {
    flat.view(offset, t.shape()).copy_from(t);
    offset += t.numel();
  }
  return flat;
}

double displacement_error(const Tensor& now, const Tensor& start, const Tensor& ref_delta) {
  std::vector<float> a = now.to_vector(), b = start.to_vector(), d(a.size());
  for (size_t e = 0; e < a.size(); ++e) d[e] = static_cast<float>(double(a[e]) - double(b[e]));
  return test::relative_error(d, ref_delta.to_vector());
}

TEST(AdamVsTorch, SeveralStepsOnAFlatBuffer) {
  const std::string dir = test::scratch_dir("adam");
  const std::vector<double> lrs = {1e-2, 1e-2, 5e-3, 5e-3, 2e-3, 1e-3};
  AdamConfig wd;
  wd.weight_decay = 0.01;
  AdamConfig other;
  other.beta1 = 0.8;
  other.beta2 = 0.99;
  other.eps = 1e-6;
  other.weight_decay = 0.1;
  const std::vector<AdamCase> cases = {{"default", AdamConfig{}, lrs},
                                       {"weight_decay_0.01", wd, lrs},
                                       {"betas_0.8_0.99_eps_1e-6_wd_0.1", other, {3e-2, 1e-2, 1e-2, 1e-3, 1e-3}},
                                       // a bias and the last tensor in groups of their own, one without decay
                                       {"groups_wd_0.01", wd, lrs, {{{1}, 50.0, 0.0}, {{3}, 0.5, 0.2}}},
                                       // the same groups made anew during the run: moments and bias correction
                                       // start again for them alone
                                       {"groups_restarted", wd, lrs, {{{1}, 50.0, 0.0, {3}}, {{2}, 0.5, 0.2, {2, 5}}}},
                                       // the bias (random gradients in our buffer, none in torch's) and the
                                       // zero-gradient tensor, which weight decay alone would move, never step
                                       {"excluded_between_groups", other, lrs, {{{2}, 0.5, 0.2}}, {1, 3}}};
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const AdamCase& c = cases[ci];
    TensorMap in;
    for (size_t k = 0; k < kParamShapes.size(); ++k)
      in["p" + std::to_string(k)] = test::random_tensor(kParamShapes[k], 500 + unsigned(ci * 10 + k));
    for (size_t t = 1; t <= c.lrs.size(); ++t)
      for (size_t k = 0; k < kParamShapes.size(); ++k)
        in["grad." + std::to_string(t) + "." + std::to_string(k)] =
            gradient_for(k, kParamShapes[k], 600 + unsigned(ci * 100 + t * 10 + k));
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, in);
    nlohmann::json groups = nlohmann::json::array();
    for (const AdamCase::Group& g : c.groups)
      groups.push_back({{"tensors", g.tensors}, {"lr_scale", g.lr_scale}, {"weight_decay", g.weight_decay},
                        {"restart_at", g.restart_at}});
    manifest.push_back({{"name", c.name}, {"input", input}, {"output", dir + "/" + c.name + "_ref.safetensors"},
                        {"params", {{"lrs", c.lrs}, {"betas", {c.config.beta1, c.config.beta2}},
                                    {"eps", c.config.eps}, {"weight_decay", c.config.weight_decay},
                                    {"groups", groups}, {"excluded", c.excluded}}}});
    inputs.push_back(in);
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("adam_ref.py", {"adam", dir + "/manifest.json"});

  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const AdamCase& c = cases[ci];
    SCOPED_TRACE(c.name);
    const TensorMap& in = inputs[ci];
    const TensorMap ref = load_safetensors(dir + "/" + c.name + "_ref.safetensors");
    std::vector<Tensor> initial;
    for (size_t k = 0; k < kParamShapes.size(); ++k) initial.push_back(in.at("p" + std::to_string(k)));
    Tensor params = flat_of(initial);
    const Tensor start = params.clone();
    AdamOptimizer adam(params.numel(), Device::cpu(), c.config);
    std::vector<int64_t> begins;
    for (const AdamCase::Group& g : c.groups) {  // flat offsets of the group's (single) tensor
      int64_t begin = 0;
      for (size_t k = 0; k < g.tensors[0]; ++k) begin += shape_numel(kParamShapes[k]);
      adam.add_group({begin, begin + shape_numel(kParamShapes[g.tensors[0]]), g.lr_scale, g.weight_decay});
      begins.push_back(begin);
    }
    for (size_t k : c.excluded) {
      int64_t begin = 0;
      for (size_t j = 0; j < k; ++j) begin += shape_numel(kParamShapes[j]);
      adam.exclude(begin, begin + shape_numel(kParamShapes[k]));
    }
    double worst_params = 0, worst_delta = 0;
    for (size_t t = 1; t <= c.lrs.size(); ++t) {
      for (size_t gi = 0; gi < c.groups.size(); ++gi)
        for (int r : c.groups[gi].restart_at)
          if (size_t(r) == t) adam.restart_group(begins[gi]);
      std::vector<Tensor> grads;
      for (size_t k = 0; k < kParamShapes.size(); ++k)
        grads.push_back(in.at("grad." + std::to_string(t) + "." + std::to_string(k)));
      adam.step(params, flat_of(grads), c.lrs[t - 1]);
      // Against the float32 torch run: same arithmetic, so only rounding differs.
      const double e_params = test::relative_error(params, ref.at("params." + std::to_string(t)));
      // The update itself against the float64 run (parameters are O(1), the update O(lr): comparing only the
      // parameters would hide an update that is wrong by far more than rounding).
      const double e_delta = displacement_error(params, start, ref.at("delta64." + std::to_string(t)));
      EXPECT_LT(e_params, 1e-7) << "parameters after step " << t;
      EXPECT_LT(e_delta, 1e-4) << "update after step " << t;
      worst_params = std::max(worst_params, e_params);
      worst_delta = std::max(worst_delta, e_delta);
    }
    EXPECT_EQ(adam.steps_taken(), static_cast<int64_t>(c.lrs.size()));
    const double e_m = test::relative_error(adam.m(), ref.at("m")), e_v = test::relative_error(adam.v(), ref.at("v"));
    EXPECT_LT(e_m, 1e-5) << "m";
    EXPECT_LT(e_v, 1e-5) << "v";
    std::printf("  %-32s params %.2e  update (vs float64) %.2e  m %.2e  v %.2e\n", c.name.c_str(), worst_params,
                worst_delta, e_m, e_v);
  }
}

// ---------------------------------------------------------------- state (checkpoints)

TEST(Adam, StateRoundTripResumesExactly) {
  const int64_t n = 1000;
  AdamConfig config;
  config.weight_decay = 0.01;
  auto grad_of_step = [n](int t) { return test::random_tensor({n}, 700 + t); };
  Tensor straight = test::random_tensor({n}, 7);
  Tensor resumed = straight.clone();
  AdamOptimizer a(n, Device::cpu(), config);
  for (int t = 1; t <= 6; ++t) a.step(straight, grad_of_step(t), 1e-2);

  AdamOptimizer b(n, Device::cpu(), config);
  for (int t = 1; t <= 3; ++t) b.step(resumed, grad_of_step(t), 1e-2);
  const std::string path = test::scratch_dir("adam_state") + "/state.safetensors";
  save_safetensors(path, b.state());
  const TensorMap loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 3u);
  EXPECT_EQ(loaded.at("adam.step").dtype(), DType::I64);
  AdamOptimizer c(n, Device::cpu(), config);
  c.load_state(loaded, "the saved state");
  EXPECT_EQ(c.steps_taken(), 3);
  for (int t = 4; t <= 6; ++t) c.step(resumed, grad_of_step(t), 1e-2);
  // Same inputs, same order of operations: bitwise equal, bias correction included (it depends on the step).
  EXPECT_EQ(resumed.to_vector(), straight.to_vector());
  EXPECT_EQ(c.m().to_vector(), a.m().to_vector());
  EXPECT_EQ(c.v().to_vector(), a.v().to_vector());
}

TEST(Adam, RejectsMismatchedStateAndShapes) {
  AdamOptimizer a(10, Device::cpu());
  TensorMap state = a.state();
  AdamOptimizer wrong_size(11, Device::cpu());
  // Errors name where the state came from (the checkpoint) and what is wrong.
  auto error_of = [](AdamOptimizer& o, const TensorMap& s) -> std::string {
    try {
      o.load_state(s, "run/last.safetensors");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string size_error = error_of(wrong_size, state);
  EXPECT_NE(size_error.find("'run/last.safetensors': the optimiser state has adam.m of"), std::string::npos)
      << size_error;
  EXPECT_NE(size_error.find("[11]"), std::string::npos) << size_error;
  TensorMap bad_step = state;
  bad_step["adam.step"] = Tensor::zeros({2}, Device::cpu(), DType::I64);
  const std::string step_error = error_of(a, bad_step);
  EXPECT_NE(step_error.find("'run/last.safetensors'"), std::string::npos) << step_error;
  EXPECT_NE(step_error.find("expected one int64"), std::string::npos) << step_error;
  state.erase("adam.v");
  const std::string missing_error = error_of(a, state);
  EXPECT_NE(missing_error.find("'run/last.safetensors': the optimiser state lacks 'adam.v'"), std::string::npos)
      << missing_error;
  // The other errors name the range or tensor at fault, its values and what was expected.
  const auto expect_error = [](const std::function<void()>& f, const std::string& fragment) {
    const std::string what = test::error_of(f);
    EXPECT_NE(what.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << what;
  };
  const auto expect_group_error = [&](const AdamGroup& group, const std::string& fragment) {
    expect_error([&] { a.add_group(group); }, fragment);
  };
  Tensor params = Tensor::zeros({10}), grads = Tensor::zeros({9});
  expect_error([&] { a.step(params, grads, 1e-3); }, "grads: expected shape [10], got [9]");
  EXPECT_EQ(a.steps_taken(), 0) << "a failed step must not count";
  Tensor matrix = Tensor::zeros({2, 5});
  expect_error([&] { a.step(matrix, Tensor::zeros({10}), 1e-3); }, "a flat parameter buffer, got [2, 5]");
  // Param groups: inside the buffer, not empty, not overlapping, added before the first step.
  expect_group_error({8, 11, 1.0, 0.0}, "Adam parameter group [8, 11) outside the buffer of 10 parameters");
  expect_group_error({-1, 3, 1.0, 0.0}, "Adam parameter group [-1, 3) outside the buffer of 10 parameters");
  expect_group_error({4, 4, 1.0, 0.0}, "Adam parameter group [4, 4) is empty");
  expect_group_error({2, 4, -1.0, 0.0},
                     "Adam parameter group [2, 4): lr scale and weight decay must be >= 0, got -1 and 0");
  expect_group_error({2, 4, 1.0, -0.5}, "must be >= 0, got 1 and -0.5");
  a.add_group({2, 4, 2.0, 0.0});
  expect_group_error({3, 6, 1.0, 0.0}, "Adam parameter group [3, 6) overlaps the group [2, 4)");
  expect_group_error({0, 3, 1.0, 0.0}, "Adam parameter group [0, 3) overlaps the group [2, 4)");
  a.add_group({4, 6, 1.0, 0.0});
  // Excluded ranges likewise: inside, overlapping neither a group nor each other, before the first step.
  expect_error([&] { a.exclude(9, 11); }, "excluded Adam range [9, 11) outside the buffer of 10 parameters");
  expect_error([&] { a.exclude(7, 7); }, "excluded Adam range [7, 7) is empty");
  expect_error([&] { a.exclude(5, 7); }, "excluded Adam range [5, 7) overlaps the group [4, 6)");
  a.exclude(7, 9);
  expect_error([&] { a.exclude(8, 10); }, "excluded Adam range [8, 10) overlaps the excluded range [7, 9)");
  expect_group_error({6, 8, 1.0, 0.0}, "Adam parameter group [6, 8) overlaps the excluded range [7, 9)");
  a.step(params, Tensor::zeros({10}), 1e-3);
  expect_group_error({9, 10, 1.0, 0.0},
                     "Adam parameter group [9, 10) added after step 1; groups must be added before the first step");
  expect_error([&] { a.exclude(9, 10); },
               "excluded Adam range [9, 10) added after step 1; parameters must be excluded before the first step");
}

// A group's rate changed between steps (0 freezes its values while the rest learns), a group restarted (its
// moments and step count from zero, the rest unchanged), and its step count through a checkpoint.
TEST(Adam, GroupRateChangesRestartsAndTheirState) {
  AdamOptimizer a(6, Device::cpu());
  a.add_group({2, 4, 1.0, 0.0});
  Tensor params = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {6});
  const Tensor grads = Tensor::from_vector({0.5f, -1, 2, -3, 0.25f, 1}, {6});
  a.step(params, grads, 1e-2);
  a.set_group_lr_scale(2, 0.0);
  const std::vector<float> before = params.to_vector();
  a.step(params, grads, 1e-2);
  const std::vector<float> after = params.to_vector();
  for (int i = 0; i < 6; ++i) {
    if (i == 2 || i == 3) EXPECT_EQ(after[i], before[i]) << i << ": frozen";
    else EXPECT_NE(after[i], before[i]) << i;
  }
  EXPECT_THROW(a.set_group_lr_scale(1, 1.0), Error) << "no group starts at 1";
  EXPECT_THROW(a.set_group_lr_scale(2, -1.0), Error);

  a.set_group_lr_scale(2, 1.0);
  const std::vector<float> m_before = a.m().to_vector();
  a.restart_group(2);
  std::vector<float> m = a.m().to_vector(), v = a.v().to_vector();
  for (int i = 0; i < 6; ++i) {
    if (i == 2 || i == 3) EXPECT_TRUE(m[i] == 0 && v[i] == 0) << i << ": restarted";
    else EXPECT_EQ(m[i], m_before[i]) << i;
  }
  EXPECT_THROW(a.restart_group(3), Error) << "no group starts at 3";
  // After a restart, the group's first step is a first step again: with a constant gradient it moves each value
  // by lr (bias correction 1 - beta^1), while the default group, at step 3, moves by less.
  const std::vector<float> p0 = params.to_vector();
  a.step(params, grads, 1e-2);
  const std::vector<float> p1 = params.to_vector();
  EXPECT_NEAR(std::fabs(p1[2] - p0[2]), 1e-2, 1e-6);
  EXPECT_NEAR(std::fabs(p1[3] - p0[3]), 1e-2, 1e-6);
  EXPECT_EQ(a.steps_taken(), 3);
  const TensorMap state = a.state();
  ASSERT_TRUE(state.count("adam.group_steps"));
  EXPECT_EQ(state.at("adam.group_steps").data_i64()[0], 1);

  // Through a checkpoint: the restarted group's count comes back and the run goes on bitwise.
  AdamOptimizer b(6, Device::cpu());
  b.add_group({2, 4, 1.0, 0.0});
  b.load_state(state, "the saved state");
  Tensor resumed = params.clone();
  a.step(params, grads, 1e-2);
  b.step(resumed, grads, 1e-2);
  EXPECT_EQ(resumed.to_vector(), params.to_vector());
  // A state from before groups counted their own steps gives every group the total; a wrong count is refused.
  TensorMap old = state;
  old.erase("adam.group_steps");
  AdamOptimizer c(6, Device::cpu());
  c.add_group({2, 4, 1.0, 0.0});
  c.load_state(old, "the saved state");
  EXPECT_EQ(c.state().at("adam.group_steps").data_i64()[0], 3);
  TensorMap wrong = state;
  wrong["adam.group_steps"] = Tensor::zeros({2}, Device::cpu(), DType::I64);
  EXPECT_THROW(c.load_state(wrong, "the saved state"), Error);
  AdamOptimizer no_groups(6, Device::cpu());
  EXPECT_THROW(no_groups.load_state(state, "the saved state"), Error) << "a group count where the optimiser has none";
}

// ---------------------------------------------------------------- CUDA twin vs CPU

TEST(AdamCuda, MatchesCpu) {
  SGML_SKIP_WITHOUT_GPU();
  const int64_t n = 3 * 1000 * 1000 + 17;  // several grid-stride rounds, not a multiple of the block
  AdamConfig config;
  config.weight_decay = 0.01;
  Tensor cpu_params = test::random_tensor({n}, 8);
  Tensor gpu_params = cpu_params.to(test::gpu());
  AdamOptimizer cpu(n, Device::cpu(), config), gpu(n, test::gpu(), config);
  for (AdamOptimizer* adam : {&cpu, &gpu}) adam->add_group({n / 3, n / 3 + 1001, 20.0, 0.0});  // a view, odd offset
  for (int t = 1; t <= 5; ++t) {
    // After step 3 the group restarts (moments zeroed on a device view, its own step count from 0), as Divide &
    // Conquer's masks do at a division.
    if (t == 4)
      for (AdamOptimizer* adam : {&cpu, &gpu}) adam->restart_group(n / 3);
    const Tensor g = test::random_tensor({n}, 800 + t);
    cpu.step(cpu_params, g, 1e-2);
    gpu.step(gpu_params, g.to(test::gpu()), 1e-2);
  }
  // The update is O(lr) on O(1) parameters; compare it, not only the parameters.
  const Tensor start = test::random_tensor({n}, 8);
  const Tensor gpu_host = gpu_params.to(Device::cpu());
  std::vector<float> a = gpu_host.to_vector(), b = cpu_params.to_vector(), s = start.to_vector();
  std::vector<float> da(a.size()), db(a.size());
  for (size_t e = 0; e < a.size(); ++e) {
    da[e] = static_cast<float>(double(a[e]) - s[e]);
    db[e] = static_cast<float>(double(b[e]) - s[e]);
  }
  EXPECT_LT(test::relative_error(da, db), 1e-5);
  EXPECT_LT(test::relative_error(gpu.m().to(Device::cpu()), cpu.m()), 1e-6);
  EXPECT_LT(test::relative_error(gpu.v().to(Device::cpu()), cpu.v()), 1e-6);
  // State from the GPU resumes on the CPU.
  AdamOptimizer moved(n, Device::cpu(), config);
  moved.add_group({n / 3, n / 3 + 1001, 20.0, 0.0});
  moved.load_state(gpu.state(), "the saved state");
  EXPECT_EQ(moved.steps_taken(), 5);
  EXPECT_EQ(moved.state().at("adam.group_steps").data_i64()[0], 2) << "the restarted group's own count";
}

// ---------------------------------------------------------------- learning-rate schedules vs torch

struct ScheduleCase {
  std::string name;
  LrSchedule schedule;
  int64_t steps;
};

LrSchedule make_schedule(LrScheduleKind kind, double base, int64_t step_size, double gamma, int64_t total,
                         double min_lr, int64_t warmup, double start_factor) {
  LrSchedule s;
  s.kind = kind;
  s.base_lr = base;
  s.step_size = step_size;
  s.gamma = gamma;
  s.total_steps = total;
  s.min_lr = min_lr;
  s.warmup_steps = warmup;
  s.warmup_start_factor = start_factor;
  return s;
}

TEST(LrScheduleVsTorch, EverySchedule) {
  using K = LrScheduleKind;
  const std::vector<ScheduleCase> cases = {
      {"constant", make_schedule(K::Constant, 1e-4, 1, 0.1, 0, 0.0, 0, 1e-3), 20},
      {"constant_warmup_8", make_schedule(K::Constant, 3e-4, 1, 0.1, 0, 0.0, 8, 0.05), 20},
      {"step_7_gamma_0.1", make_schedule(K::Step, 1e-2, 7, 0.1, 0, 0.0, 0, 1e-3), 40},
      {"step_5_gamma_0.5_warmup_4", make_schedule(K::Step, 1e-3, 5, 0.5, 0, 0.0, 4, 0.25), 40},
      {"cosine_100_to_0", make_schedule(K::Cosine, 1e-4, 1, 0.1, 100, 0.0, 0, 1e-3), 100},
      {"cosine_57_floor_1e-5_warmup_10", make_schedule(K::Cosine, 1e-3, 1, 0.1, 57, 1e-5, 10, 0.01), 57},
      {"cosine_1000_warmup_50", make_schedule(K::Cosine, 2e-4, 1, 0.1, 1000, 0.0, 50, 1e-3), 1000},
  };
  const std::string dir = test::scratch_dir("lr");
  nlohmann::json spec = nlohmann::json::array();
  for (const auto& c : cases) {
    const LrSchedule& s = c.schedule;
    spec.push_back({{"name", c.name}, {"kind", lr_schedule_kind_name(s.kind)}, {"base_lr", s.base_lr},
                    {"step_size", s.step_size}, {"gamma", s.gamma}, {"total_steps", s.total_steps},
                    {"min_lr", s.min_lr}, {"warmup_steps", s.warmup_steps},
                    {"warmup_start_factor", s.warmup_start_factor}, {"steps", c.steps}});
  }
  write_file_atomically(dir + "/cases.json", spec.dump(1));
  test::run_reference("adam_ref.py", {"lr", dir + "/cases.json", dir + "/lrs.json"});
  std::ifstream f(dir + "/lrs.json");
  const nlohmann::json ref = nlohmann::json::parse(f);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto& want = ref.at(c.name);
    ASSERT_EQ(static_cast<int64_t>(want.size()), c.steps);
    double worst = 0;
    for (int64_t t = 0; t < c.steps; ++t) {
      const double expected = want[t].get<double>(), got = c.schedule.lr_at(t);
      // torch steps its schedulers recursively (lr *= ratio), we use the closed forms: rounding differs, and is
      // measured against the base rate (a relative error of a rate near a zero floor means nothing).
      const double err = std::fabs(got - expected) / c.schedule.base_lr;
      worst = std::max(worst, err);
      EXPECT_LT(err, 1e-12) << "step " << t << ": " << got << " vs torch " << expected;
    }
    std::printf("  %-32s %4lld steps, worst |ours - torch| / base_lr %.2e\n", c.name.c_str(),
                static_cast<long long>(c.steps), worst);
  }
}

TEST(LrSchedule, CosineHoldsItsFloorAfterTheRunAndBadSchedulesThrow) {
  LrSchedule s = make_schedule(LrScheduleKind::Cosine, 1e-3, 1, 0.1, 50, 1e-5, 5, 0.1);
  EXPECT_EQ(s.lr_at(50), 1e-5);
  EXPECT_EQ(s.lr_at(500), 1e-5);  // torch's formula would rise again; a run longer than planned keeps the floor
  EXPECT_EQ(parse_lr_schedule_kind("cosine"), LrScheduleKind::Cosine);
  EXPECT_THROW(parse_lr_schedule_kind("linear"), Error);
  EXPECT_THROW(s.lr_at(-1), Error);
  s.total_steps = 5;  // nothing left after the warm-up
  EXPECT_THROW(s.lr_at(0), Error);
  LrSchedule step = make_schedule(LrScheduleKind::Step, 1e-3, 0, 0.1, 0, 0.0, 0, 1e-3);
  EXPECT_THROW(step.lr_at(0), Error);
}

}  // namespace
