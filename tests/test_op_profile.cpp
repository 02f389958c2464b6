// Op profiling (engine/op_profile.h): off, ops record nothing; on, every dispatched op adds its calls and time under
// its name. `sgml bench train --profile` prints the table, and --precision reaches the benchmark's JSON.
#include <gtest/gtest.h>

#include <optional>

#include "engine/op_profile.h"
#include "layers/gemm.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

// A copy: op_profile() returns a fresh vector each time.
std::optional<OpTotal> find_op(const std::vector<OpTotal>& profile, const std::string& op) {
  for (const OpTotal& t : profile)
    if (t.op == op) return t;
  return std::nullopt;
}

TEST(OpProfile, CountsEachDispatchedOpByNameOnlyWhileOn) {
  const Tensor a = test::random_tensor({64, 32}, 1), b = test::random_tensor({32, 16}, 2);
  reset_op_profile();
  matmul(a, false, b, false);  // off: not counted
  EXPECT_FALSE(find_op(op_profile(), "gemm").has_value());
  set_op_profiling(true);
  matmul(a, false, b, false);
  matmul(a, false, b, false);
  set_op_profiling(false);
  matmul(a, false, b, false);
  const std::optional<OpTotal> gemm = find_op(op_profile(), "gemm");
  ASSERT_TRUE(gemm.has_value());
  EXPECT_EQ(gemm->calls, 2);
  EXPECT_GT(gemm->seconds, 0.0);
  reset_op_profile();
  EXPECT_TRUE(op_profile().empty());
}

// On a GPU the time comes from CUDA events around each op: a large GEMM takes measurable device time, and a
// profile taken without waiting in between still counts every call.
TEST(OpProfile, CountsGpuOpsByTheirDeviceTime) {
  SGML_SKIP_WITHOUT_GPU();
  const Device gpu = test::gpu();
  const Tensor a = test::random_tensor({512, 512}, 1).to(gpu), b = test::random_tensor({512, 512}, 2).to(gpu);
  reset_op_profile();
  set_op_profiling(true);
  for (int i = 0; i < 3; ++i) matmul(a, false, b, false);
  set_op_profiling(false);
  const std::optional<OpTotal> gemm = find_op(op_profile(), "gemm");
  ASSERT_TRUE(gemm.has_value());
  EXPECT_EQ(gemm->calls, 3);
  EXPECT_GT(gemm->seconds, 0.0);
  EXPECT_LT(gemm->seconds, 1.0);  // three 512^3 GEMMs: well under a second on any GPU
  reset_op_profile();
  EXPECT_TRUE(op_profile().empty());
}

TEST(OpProfile, BenchTrainPrintsWhereTheStepGoesAndItsPrecision) {
  const std::string bench = std::string(SGML_BINARY_DIR) +
                            "/sgml bench train --device cpu --model resnet18 --image-size 32 --classes-per-batch 2 "
                            "--images-per-class 2 --warmup 0 --steps 1 --json";
  std::string out;
  ASSERT_EQ(test::run_command(bench + " --profile --precision tf32 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("\"precision\": \"tf32\""), std::string::npos) << out;
  for (const char* line : {"op profile", "conv2d_forward", "conv2d_backward_filter", "(outside ops)", "profiled step"})
    EXPECT_NE(out.find(line), std::string::npos) << "no '" << line << "' in\n" << out;
  EXPECT_NE(test::run_command(bench + " --precision bf16 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("'bf16'"), std::string::npos) << out;
}

}  // namespace
