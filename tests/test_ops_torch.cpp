// Every op's forward and gradients against PyTorch autograd (float64), table-driven (one line per case).
// The inputs of all cases are written once, one reference script computes all of them, and each case is then a
// test of its own. Relative error (||ours - ref|| / ||ref||) must be under 1e-4 for every output and gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "engine/safetensors.h"
#include "layers/functional.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

using Runner = std::function<TensorMap(const TensorMap& in, bool backward)>;

struct OpCase {
  std::string name, op;
  nlohmann::json params;
  std::map<std::string, Shape> inputs;
  Runner run;
  float lo = -1.0f, hi = 1.0f;
  std::map<std::string, std::pair<float, float>> ranges = {};  // an input's own range, instead of lo..hi
};

// Runs a one-output op on leaf variables named like the inputs, then backward with dy; grads come back as "d"+name.
TensorMap run_unary_style(const TensorMap& in, bool backward, const std::vector<std::string>& names,
                          const std::function<Variable(std::vector<Variable>&)>& forward) {
  std::vector<Variable> vars;
  for (const auto& n : names) vars.emplace_back(in.at(n).clone(), true);
  Variable y = forward(vars);
  TensorMap out{{"y", y.value()}};
  if (backward) {
    y.backward(in.at("dy"));
    for (size_t i = 0; i < names.size(); ++i) out["d" + names[i]] = vars[i].grad();
  }
  return out;
}

fn::BatchNormBuffers buffers_from(const TensorMap& in, int64_t channels) {
  fn::BatchNormBuffers b;
  b.running_mean = in.count("rm") ? in.at("rm").clone() : Tensor::zeros({channels});
  b.running_var = in.count("rv") ? in.at("rv").clone() : Tensor::full({channels}, 1.0f);
  b.num_batches_tracked = Tensor::zeros({}, Device::cpu(), DType::I64);
  return b;
}

OpCase conv_case(const std::string& name, Shape x, Shape w, int stride, int pad) {
  return {name,
          "conv2d",
          {{"stride", stride}, {"pad", pad}},
          {{"x", x}, {"w", w}},
          [stride, pad](const TensorMap& in, bool bw) {
            return run_unary_style(in, bw, {"x", "w"},
                                   [&](std::vector<Variable>& v) { return fn::conv2d(v[0], v[1], stride, pad); });
          }};
}

// The epilogues ResNet uses: relu(bn(x)) and relu(bn(x) + r) (gradients also to r).
OpCase bn_case(const std::string& name, bool training, Shape x, bool residual = false, bool relu = false) {
  const int64_t c = x[1];
  std::map<std::string, Shape> inputs{{"x", x}, {"gamma", {c}}, {"beta", {c}}, {"rm", {c}}, {"rv", {c}}};
  std::vector<std::string> names{"x", "gamma", "beta"};
  if (residual) {
    inputs["r"] = x;
    names.push_back("r");
  }
  return {name, training ? "batch_norm2d_train" : "batch_norm2d_eval", {{"residual", residual}, {"relu", relu}},
          inputs, [c, training, residual, relu, names](const TensorMap& in, bool bw) {
            fn::BatchNormBuffers buffers = buffers_from(in, c);
            TensorMap out = run_unary_style(in, bw, names, [&](std::vector<Variable>& v) {
              return fn::batch_norm2d(v[0], v[1], v[2], buffers, training, residual ? v[3] : Variable(), relu);
            });
            out["rm_out"] = buffers.running_mean;
            out["rv_out"] = buffers.running_var;
            return out;
          }};
}
OpCase bn_train_case(const std::string& name, Shape x) { return bn_case(name, true, x); }

OpCase pool_case(const std::string& name, Shape x, int k, int s, int p) {
  return {name,
          "max_pool2d",
          {{"kernel", k}, {"stride", s}, {"pad", p}},
          {{"x", x}},
          [k, s, p](const TensorMap& in, bool bw) {
            return run_unary_style(in, bw, {"x"},
                                   [&](std::vector<Variable>& v) { return fn::max_pool2d(v[0], k, s, p); });
          }};
}

OpCase matmul_case(const std::string& name, Shape a, bool ta, Shape b, bool tb) {
  return {name, "matmul", {{"ta", ta}, {"tb", tb}}, {{"a", a}, {"b", b}}, [ta, tb](const TensorMap& in, bool bw) {
            return run_unary_style(in, bw, {"a", "b"},
                                   [&](std::vector<Variable>& v) { return fn::matmul(v[0], ta, v[1], tb); });
          }};
}

OpCase simple_case(const std::string& name, const std::string& op, std::map<std::string, Shape> inputs,
                   std::vector<std::string> names, std::function<Variable(std::vector<Variable>&)> forward,
                   float lo = -1.0f, float hi = 1.0f) {
  return {name, op, {}, inputs,
          [names, forward](const TensorMap& in, bool bw) { return run_unary_style(in, bw, names, forward); }, lo, hi};
}

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cases = {
      conv_case("conv3x3_s1_p1", {2, 3, 9, 11}, {4, 3, 3, 3}, 1, 1),
      conv_case("conv1x1_s2_batch1", {1, 5, 8, 7}, {6, 5, 1, 1}, 2, 0),
      conv_case("conv7x7_s2_p3", {3, 3, 15, 13}, {5, 3, 7, 7}, 2, 3),
      conv_case("conv3x3_s2_odd", {2, 4, 7, 7}, {3, 4, 3, 3}, 2, 1),
      bn_train_case("bn_train", {4, 3, 5, 6}),
      bn_train_case("bn_train_batch1", {1, 2, 3, 3}),
      bn_train_case("bn_train_1x1_spatial", {5, 4, 1, 1}),
      pool_case("maxpool_3_2_1", {2, 3, 9, 10}, 3, 2, 1),
      pool_case("maxpool_3_2_1_batch1_small", {1, 1, 4, 4}, 3, 2, 1),
      pool_case("maxpool_2_2_0", {2, 2, 6, 5}, 2, 2, 0),
      simple_case("relu", "relu", {{"x", {3, 4, 5}}}, {"x"}, [](auto& v) { return fn::relu(v[0]); }),
      simple_case(
          "sigmoid_extreme", "sigmoid", {{"x", {4, 33}}}, {"x"}, [](auto& v) { return fn::sigmoid(v[0]); }, -40.f,
          40.f),
      simple_case("global_avg_pool", "global_avg_pool", {{"x", {3, 5, 4, 7}}}, {"x"},
                  [](auto& v) { return fn::global_avg_pool(v[0]); }),
      simple_case("linear", "linear", {{"x", {5, 7}}, {"w", {3, 7}}, {"b", {3}}}, {"x", "w", "b"},
                  [](auto& v) { return fn::linear(v[0], v[1], v[2]); }),
      simple_case("linear_batch1", "linear", {{"x", {1, 9}}, {"w", {4, 9}}, {"b", {4}}}, {"x", "w", "b"},
                  [](auto& v) { return fn::linear(v[0], v[1], v[2]); }),
      simple_case("add", "add", {{"a", {2, 3, 4}}, {"b", {2, 3, 4}}}, {"a", "b"},
                  [](auto& v) { return fn::add(v[0], v[1]); }),
      simple_case("l2_normalize", "l2_normalize", {{"x", {6, 17}}}, {"x"},
                  [](auto& v) { return fn::l2_normalize(v[0]); }),
      simple_case("l2_normalize_batch1", "l2_normalize", {{"x", {1, 5}}}, {"x"},
                  [](auto& v) { return fn::l2_normalize(v[0]); }),
      matmul_case("matmul_nn", {4, 5}, false, {5, 3}, false),
      matmul_case("matmul_nt", {4, 5}, false, {3, 5}, true),
      matmul_case("matmul_tn", {5, 4}, true, {5, 3}, false),
      matmul_case("matmul_tt", {5, 4}, true, {3, 5}, true),
  };
  // Eval-mode BN (inference, and frozen batch norm in training): running statistics, gradients through them held
  // fixed, as PyTorch's backward through BatchNorm2d.eval(). The running statistics must not change.
  cases.push_back(bn_case("bn_eval", false, {3, 4, 5, 5}));
  cases.push_back(bn_case("bn_eval_batch1_1x1", false, {1, 6, 1, 1}));
  // Both with ResNet's epilogues relu(bn(x)) and relu(bn(x) + r), on planes of float4 (4x4) and of odd length.
  cases.push_back(bn_case("bn_train_relu", true, {3, 5, 4, 4}, false, true));
  cases.push_back(bn_case("bn_train_relu_odd", true, {2, 3, 5, 3}, false, true));
  cases.push_back(bn_case("bn_eval_relu", false, {3, 4, 5, 5}, false, true));
  cases.push_back(bn_case("bn_train_add_relu", true, {3, 5, 4, 4}, true, true));
  cases.push_back(bn_case("bn_train_add_relu_odd", true, {2, 3, 5, 3}, true, true));
  cases.push_back(bn_case("bn_eval_add_relu", false, {3, 4, 5, 5}, true, true));
  // Variances near epsilon (1e-5), where it counts: a wrong or missing epsilon moves the outputs by tens of percent,
  // while with variances near 1 it moves them by 1e-5, under the tolerance.
  OpCase small_batch_variance = bn_case("bn_train_small_variance", true, {3, 4, 5, 5}, false, true);
  small_batch_variance.ranges = {{"x", {-0.01f, 0.01f}}};  // a variance of 3e-5
  cases.push_back(small_batch_variance);
  OpCase small_running_variance = bn_case("bn_eval_small_running_variance", false, {3, 4, 5, 5});
  small_running_variance.ranges = {{"rv", {1e-5f, 4e-5f}}};
  cases.push_back(small_running_variance);
  // Running statistics after several training steps on different inputs.
  cases.push_back({"bn_running_stats_3_steps",
                   "bn_running_stats",
                   {},
                   {{"x0", {4, 3, 5, 5}}, {"x1", {2, 3, 6, 4}}, {"x2", {3, 3, 2, 2}}},
                   [](const TensorMap& in, bool) {
                     Variable gamma(Tensor::full({3}, 1.0f), true), beta(Tensor::zeros({3}), true);
                     fn::BatchNormBuffers b = buffers_from({}, 3);
                     Variable y;
                     for (const char* k : {"x0", "x1", "x2"})
                       y = fn::batch_norm2d(Variable(in.at(k)), gamma, beta, b, true);
                     return TensorMap{{"y", y.value()}, {"rm_out", b.running_mean}, {"rv_out", b.running_var},
                                      {"num_batches_tracked", b.num_batches_tracked}};
                   },
                   0.0f,
                   3.0f});
  // Gradients summed where values fan out, as in a ResNet block: x feeds two convolutions and the residual, w serves
  // two convolutions. The convolutions add into the gradients that exist (the tape's add_grad_with): x's first
  // gradient is the batch norm's masked one, no longer referenced by anything else (adopted and added into), and
  // the add hands one tensor to both its inputs (still shared: copied before adding).
  cases.push_back({"residual_fan_in", "residual_fan_in", {},
                   {{"x", {2, 4, 6, 5}}, {"w", {4, 4, 3, 3}}, {"v", {4, 4, 1, 1}}, {"gamma", {4}}, {"beta", {4}}},
                   [](const TensorMap& in, bool bw) {
                     return run_unary_style(in, bw, {"x", "w", "v", "gamma", "beta"}, [&](std::vector<Variable>& p) {
                       fn::BatchNormBuffers buffers = buffers_from({}, 4);
                       const Variable h = fn::conv2d(p[0], p[1], 1, 1);
                       const Variable s = fn::add(fn::conv2d(h, p[1], 1, 1), fn::conv2d(p[0], p[2], 1, 0));
                       return fn::batch_norm2d(s, p[3], p[4], buffers, true, p[0], true);
                     });
                   }});
  return cases;
}

float range_lo(const OpCase& c, const std::string& input) {
  if (c.ranges.count(input)) return c.ranges.at(input).first;
  if (input == "gamma" || input == "rv") return 0.5f;
  return c.lo;
}
float range_hi(const OpCase& c, const std::string& input) {
  if (c.ranges.count(input)) return c.ranges.at(input).second;
  if (input == "gamma" || input == "rv") return 1.5f;
  return c.hi;
}

// Writes every case's inputs (made by inputs_of(index, case)) and a manifest into dir, and runs the reference script
// once for all of them (importing torch costs seconds); returns the inputs. reference_of reads a case's result.
std::vector<TensorMap> run_references(const std::string& dir, const std::vector<OpCase>& cases,
                                      const std::function<TensorMap(size_t, const OpCase&)>& inputs_of) {
  nlohmann::json manifest = nlohmann::json::array();
  std::vector<TensorMap> inputs;
  for (size_t i = 0; i < cases.size(); ++i) {
    const OpCase& c = cases[i];
    inputs.push_back(inputs_of(i, c));
    const std::string input = dir + "/" + c.name + "_in.safetensors";
    save_safetensors(input, inputs.back());
    manifest.push_back({{"name", c.name}, {"op", c.op}, {"params", c.params}, {"input", input},
                        {"output", dir + "/" + c.name + "_ref.safetensors"}});
  }
  write_file_atomically(dir + "/manifest.json", manifest.dump(1));
  test::run_reference("ops_ref.py", {dir + "/manifest.json"});
  return inputs;
}

TensorMap reference_of(const std::string& dir, const OpCase& c) {
  return load_safetensors(dir + "/" + c.name + "_ref.safetensors");
}

// One process computes every case's reference with one call of the script (importing torch costs seconds), so the
// cases are checked in one test; a failure names the case and the output.
TEST(OpsVsTorch, ForwardAndGradientsOfEveryOp) {
  const std::string dir = test::scratch_dir("ops");
  const auto cases = op_cases();
  const std::vector<TensorMap> inputs = run_references(dir, cases, [](size_t i, const OpCase& c) {
    TensorMap in;
    unsigned seed = 1000 + unsigned(i) * 17;
    for (const auto& [name, shape] : c.inputs)
      in[name] = test::random_tensor(shape, seed++, range_lo(c, name), range_hi(c, name));
    TensorMap fwd = c.run(in, false);
    in["dy"] = test::random_tensor(fwd.at("y").shape(), seed++);
    return in;
  });

  for (size_t i = 0; i < cases.size(); ++i) {
    const OpCase& c = cases[i];
    SCOPED_TRACE(c.name);
    const TensorMap ref = reference_of(dir, c);
    const TensorMap ours = c.run(inputs[i], true);
    ASSERT_FALSE(ref.empty());
    for (const auto& [key, expected] : ref) {
      ASSERT_TRUE(ours.count(key)) << c.name << ": we produce no '" << key << "'";
      const Tensor& got = ours.at(key);
      if (expected.dtype() == DType::I64) {
        EXPECT_EQ(got.data_i64()[0], expected.data_i64()[0]) << c.name << " " << key;
        continue;
      }
      ASSERT_EQ(got.shape(), expected.shape()) << c.name << " " << key;
      const double err = test::relative_error(got, expected);
      EXPECT_LT(err, 1e-4) << c.name << " " << key << ": relative error " << err;
    }
  }
}

// ReLU and max pooling at their edges, as PyTorch: relu(NaN) = NaN, relu(-0) = -0, relu(inf) = inf, and the gradient
// passes where the output is NaN (0 only where y <= 0); a window holding NaN pools to NaN, its gradient to the NaN.
// Both ways of taking a ReLU are checked: fn::relu, and the batch norm's fused epilogue, whose backward recomputes
// the mask from x (no residual) or masks by y (with one). NaN and infinity go through the relative error above as
// NaN, so these cases are compared element by element.
TEST(OpsVsTorch, NanInfinityAndSignedZeroAsTorch) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> edges{nan, -0.0f, 0.0f, inf, -inf, -1.0f, 0.5f, 1e-40f, -1e-40f, 2.0f};
  // Edge values first, random values after, in a (2,3,2,5) batch (60 values: each channel gets some edges).
  Tensor x = test::random_tensor({2, 3, 2, 5}, 51);
  for (size_t i = 0; i < edges.size(); ++i) x.data()[i * 6] = edges[i];
  x.data()[5] = nan;  // a second NaN in the first pooling windows: the last one takes the gradient, as in PyTorch
  const std::vector<OpCase> cases{
      simple_case("relu_edges", "relu", {{"x", x.shape()}}, {"x"}, [](auto& v) { return fn::relu(v[0]); }),
      bn_case("bn_eval_relu_edges", false, x.shape(), false, true),
      bn_case("bn_eval_add_relu_edges", false, x.shape(), true, true),
      pool_case("maxpool_edges", x.shape(), 3, 2, 1), pool_case("maxpool_edges_2", x.shape(), 2, 2, 0)};
  const std::string dir = test::scratch_dir("ops_relu_edges");
  const std::vector<TensorMap> inputs = run_references(dir, cases, [&](size_t i, const OpCase& c) {
    TensorMap in;
    unsigned seed = 700 + unsigned(i) * 13;
    for (const auto& [name, shape] : c.inputs)
      in[name] = name == "x" ? x.clone() : test::random_tensor(shape, seed++, range_lo(c, name), range_hi(c, name));
    in["dy"] = test::random_tensor(c.run(in, false).at("y").shape(), seed++);
    return in;
  });

  for (size_t i = 0; i < cases.size(); ++i) {
    const OpCase& c = cases[i];
    const TensorMap ref = reference_of(dir, c);
    const TensorMap ours = c.run(inputs[i], true);
    for (const char* key : {"y", "dx"}) {
      SCOPED_TRACE(c.name + " " + key);
      const std::vector<float> got = ours.at(key).to_vector(), want = ref.at(key).to_vector();
      ASSERT_EQ(got.size(), want.size());
      for (size_t k = 0; k < want.size(); ++k) {
        if (std::isnan(want[k])) {
          EXPECT_TRUE(std::isnan(got[k])) << "at " << k << ": PyTorch NaN, ours " << got[k];
        } else if (std::isinf(want[k])) {
          EXPECT_EQ(got[k], want[k]) << "at " << k;
        } else if (want[k] == 0.0f) {  // exactly 0 where the mask stops it, and -0 kept by fn::relu
          EXPECT_EQ(got[k], 0.0f) << "at " << k;
          EXPECT_EQ(std::signbit(got[k]), std::signbit(want[k])) << "at " << k << ": the sign of zero";
        } else {
          EXPECT_NEAR(got[k], want[k], 1e-5 * (1.0 + std::abs(want[k]))) << "at " << k;
        }
      }
    }
  }
}

}  // namespace
