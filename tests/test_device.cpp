// Device selection and the device checks of ops, on any machine: parsing "cuda:N", which compute capabilities a
// build's architecture list covers, the one-device check of the dispatch layer, the ranked fallback of cuDNN
// algorithms, and what the GPU tests do where no GPU is usable (skip saying why, or fail with SGML_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/dispatch.h"
#include "layers/ranked_fallback.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

using sgml::test::error_of;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Sets or unsets an environment variable for one scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_.c_str(), old_.c_str(), 1);
    else unsetenv(name_.c_str());
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

// ---------------------------------------------------------------- cuda:N

TEST(DeviceParse, CudaIndexIsAWholeNumber) {
  EXPECT_EQ(parse_cuda_index("cuda"), 0);
  EXPECT_EQ(parse_cuda_index("cuda:0"), 0);
  EXPECT_EQ(parse_cuda_index("cuda:3"), 3);
  EXPECT_EQ(parse_cuda_index("cuda:007"), 7);
  const std::vector<std::pair<std::string, std::string>> bad{
      {"cuda:", "no device number"},           {"cuda:abc", "not a whole number"},
      {"cuda:-1", "cannot be negative"},       {"cuda:1x", "not a whole number"},
      {"cuda: 1", "not a whole number"},       {"cuda:+1", "not a whole number"},
      {"cuda:99999999999", "too large"},       {"cuda:2147483648", "too large"},
      {"gpu:0", "not a CUDA device"}};
  for (const auto& [text, why] : bad) {
    const std::string what = error_of([&] { parse_cuda_index(text); });
    EXPECT_TRUE(contains(what, "bad device '" + text + "'")) << what;
    EXPECT_TRUE(contains(what, why)) << what;
  }
}

// The syntax is refused as such, on any machine, before the GPU is looked for (before, "cuda:1x" was cuda:1 and
// "cuda:-1" failed later as "invalid device ordinal").
TEST(DeviceParse, BadCudaDevicesAreRefusedBeforeLookingForAGpu) {
  for (const std::string text : {"cuda:", "cuda:abc", "cuda:-1", "cuda:1x"}) {
    const std::string what = error_of([&] { parse_device(text); });
    EXPECT_TRUE(contains(what, "bad device '" + text + "'")) << what;
  }
  EXPECT_TRUE(contains(error_of([] { parse_device("tpu"); }), "bad device 'tpu'"));
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
}

TEST(DeviceParse, ExplicitCudaWithoutAUsableGpuSaysWhy) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is usable here";
  ASSERT_FALSE(cuda_unavailable_reason().empty());
  for (const std::string text : {"cuda", "cuda:0", "cuda:5"}) {
    const std::string what = error_of([&] { parse_device(text); });
    EXPECT_TRUE(contains(what, "device '" + text + "' cannot be used")) << what;
    EXPECT_TRUE(contains(what, text == "cuda:5" ? "" : cuda_unavailable_reason())) << what;
  }
}

TEST(DeviceParse, AutoFallsBackToTheCpuUnlessAGpuIsRequired) {
  if (cuda_available()) {
    EXPECT_EQ(parse_device("auto"), Device::cuda(0));
    return;
  }
  {
    ScopedEnv env("SGML_REQUIRE_GPU", nullptr);
    EXPECT_FALSE(gpu_required());
    EXPECT_EQ(parse_device("auto"), Device::cpu());
  }
  {
    ScopedEnv env("SGML_REQUIRE_GPU", "0");
    EXPECT_EQ(parse_device("auto"), Device::cpu());
  }
  ScopedEnv env("SGML_REQUIRE_GPU", "1");
  EXPECT_TRUE(gpu_required());
  const std::string what = error_of([] { parse_device("auto"); });
  EXPECT_TRUE(contains(what, "SGML_REQUIRE_GPU")) << what;
  EXPECT_TRUE(contains(what, cuda_unavailable_reason())) << what;
}

// ---------------------------------------------------------------- compute capabilities

// NVIDIA's compatibility rules: SASS for sm_XY runs on X.Z with Z >= Y; PTX for compute_XY is compiled by the
// driver for any X'.Y' >= X.Y; "a" code runs on exactly that device, "f" code on the family (same major).
TEST(CudaArchitectures, CompatibilityRules) {
  struct Case {
    const char* archs;
    int major, minor;
    bool supported;
  };
  for (const Case& c : std::vector<Case>{{"80,90", 8, 0, true},
                                         {"80,90", 8, 6, true},
                                         {"80,90", 8, 9, true},
                                         {"80,90", 9, 0, true},
                                         {"80,90", 7, 5, false},
                                         {"80,90", 7, 0, false},
                                         {"80,90", 10, 0, true},
                                         {"90", 8, 0, false},
                                         {"90", 8, 6, false},
                                         {"90", 9, 0, true},
                                         {"90", 12, 0, true},
                                         {"80-real,90-real", 10, 0, false},
                                         {"80-real,90-real", 8, 6, true},
                                         {"80-real", 9, 0, false},
                                         {"75-virtual", 7, 5, true},
                                         {"75-virtual", 8, 0, true},
                                         {"75-virtual", 7, 0, false},
                                         {"90a", 9, 0, true},
                                         {"90a", 10, 0, false},
                                         {"90a-real,80", 8, 6, true},
                                         {"100f", 10, 3, true},
                                         {"100f", 12, 0, false},
                                         {"120", 12, 0, true},
                                         {"native", 5, 0, true},
                                         {"all-major", 5, 0, true},
                                         {"", 5, 0, true}})
    EXPECT_EQ(cuda_architectures_support(c.archs, c.major, c.minor), c.supported)
        << "'" << c.archs << "' on compute capability " << c.major << "." << c.minor;
}

TEST(CudaArchitectures, TheBuildKnowsWhatItCompiledFor) {
#ifdef SGML_WITH_CUDA
  EXPECT_FALSE(compiled_cuda_architectures().empty());
#else
  EXPECT_EQ(compiled_cuda_architectures(), "");
#endif
}

// ---------------------------------------------------------------- one device per op

TEST(DispatchDevices, EveryTensorOfAnOpMustBeOnOneDevice) {
  EXPECT_EQ(error_of([] { check_one_device("op", {}); }), "");
  EXPECT_EQ(error_of([] { check_one_device("op", {{"x", Device::cpu()}}); }), "");
  EXPECT_EQ(error_of([] { check_one_device("op", {{"x", Device::cuda(1)}, {"y", Device::cuda(1)}}); }), "");
  std::string what = error_of([] {
    check_one_device("batch_norm2d_forward_train",
                     {{"x", Device::cuda(0)}, {"gamma", Device::cuda(0)}, {"running_mean", Device::cpu()}});
  });
  EXPECT_TRUE(contains(what, "batch_norm2d_forward_train")) << what;
  EXPECT_TRUE(contains(what, "x is on cuda:0 and running_mean on cpu")) << what;
  what = error_of([] { check_one_device("add", {{"a", Device::cuda(0)}, {"b", Device::cuda(1)}}); });
  EXPECT_TRUE(contains(what, "a is on cuda:0 and b on cuda:1")) << what;
}

// ---------------------------------------------------------------- ranked fallback (cuDNN algorithms)

TEST(RankedFallback, TriesFromTheLastWorkingOneAndWrapsAround) {
  std::vector<size_t> tried;
  const auto works_from = [&](size_t good) {
    return [&tried, good](size_t i) {
      tried.push_back(i);
      return i == good ? std::string() : "refused " + std::to_string(i);
    };
  };
  EXPECT_EQ(first_that_works(4, 0, works_from(0), "conv"), 0u);
  EXPECT_EQ(tried, (std::vector<size_t>{0}));
  tried.clear();
  EXPECT_EQ(first_that_works(4, 0, works_from(2), "conv"), 2u);
  EXPECT_EQ(tried, (std::vector<size_t>{0, 1, 2}));
  tried.clear();
  EXPECT_EQ(first_that_works(4, 2, works_from(1), "conv"), 1u);
  EXPECT_EQ(tried, (std::vector<size_t>{2, 3, 0, 1}));
}

TEST(RankedFallback, WhenNoneWorksTheErrorListsEveryReason) {
  const std::string what = error_of(
      [] { first_that_works(3, 1, [](size_t i) { return "refused " + std::to_string(i); }, "conv2d forward"); });
  EXPECT_TRUE(contains(what, "conv2d forward: no candidate worked")) << what;
  const size_t a = what.find("candidate 2 of 3: refused 1"), b = what.find("candidate 3 of 3: refused 2"),
               c = what.find("candidate 1 of 3: refused 0");
  ASSERT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos) << what;
  EXPECT_TRUE(a < b && b < c) << what;
  EXPECT_TRUE(contains(error_of([] { first_that_works(0, 0, [](size_t) { return std::string(); }, "x"); }),
                       "there were none"));
}

// ---------------------------------------------------------------- GPU tests where there is no GPU

// Runs GPU tests of this program (a gtest filter) in a child process, not a stand-in run unless `env` makes it one,
// and returns its exit status and output.
int run_gpu_tests(const std::string& env, const std::string& filter, std::string* output) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  return test::run_command("env -u SGML_TEST_GPU_ON_CPU " + env + " '" + self + "' --gtest_filter=" + filter, output);
}

int run_gpu_test(const char* require, std::string* output) {
  const std::string env = require ? std::string("SGML_REQUIRE_GPU=") + require : std::string("-u SGML_REQUIRE_GPU");
  return run_gpu_tests(env, "OpsCudaLarge.GridStrideLoopsCoverEveryValue", output);
}

TEST(GpuSkip, WithoutAGpuTestsSkipSayingWhyOrFailWhenAGpuIsRequired) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is usable here: the GPU tests run";
  const std::string reason = cuda_unavailable_reason();
  std::string out;
  EXPECT_EQ(run_gpu_test(nullptr, &out), 0) << out;
  EXPECT_TRUE(contains(out, "[  SKIPPED ] OpsCudaLarge.GridStrideLoopsCoverEveryValue")) << out;
  EXPECT_TRUE(contains(out, "no usable GPU: " + reason)) << out;
  EXPECT_NE(run_gpu_test("1", &out), 0) << out;
  EXPECT_TRUE(contains(out, "[  FAILED  ] OpsCudaLarge.GridStrideLoopsCoverEveryValue")) << out;
  EXPECT_TRUE(contains(out, "SGML_REQUIRE_GPU is set, but no usable GPU was found: " + reason)) << out;
}

// A stand-in run (the suite's GpuOnCpu.* copies) runs a GPU test with the CPU in place of the GPU, GPU or not, even
// where a GPU is required; a test of CUDA itself skips there, saying why.
TEST(GpuSkip, AStandInRunRunsGpuTestsOnTheCpu) {
  std::string out;
  const std::string filter =
      "RetrievalKMeansCuda.MatchesCpuOnSeparatedBlobs:OpsCudaLarge.GridStrideLoopsCoverEveryValue";
  EXPECT_EQ(run_gpu_tests("SGML_TEST_GPU_ON_CPU=1 SGML_REQUIRE_GPU=1", filter, &out), 0) << out;
  EXPECT_TRUE(contains(out, "[       OK ] RetrievalKMeansCuda.MatchesCpuOnSeparatedBlobs")) << out;
  EXPECT_TRUE(contains(out, "[  SKIPPED ] OpsCudaLarge.GridStrideLoopsCoverEveryValue")) << out;
  EXPECT_TRUE(contains(out, "the CPU cannot stand in for the GPU here: it checks the CUDA kernels' grid-stride"))
      << out;
  // Any other value is a normal run.
  EXPECT_EQ(run_gpu_tests("-u SGML_REQUIRE_GPU SGML_TEST_GPU_ON_CPU=yes", filter, &out), 0) << out;
  if (!cuda_available())
    EXPECT_TRUE(contains(out, "[  SKIPPED ] RetrievalKMeansCuda.MatchesCpuOnSeparatedBlobs")) << out;
}

// A stand-in copy runs beside the GPU test itself (ctest -j on a GPU machine), so its scratch folders are its own.
TEST(GpuSkip, ScratchFolderProbe) { std::printf("scratch: %s\n", test::scratch_dir("probe").c_str()); }

TEST(GpuSkip, AStandInCopyHasScratchFoldersOfItsOwn) {
  std::string normal, stand_in;
  ASSERT_EQ(run_gpu_tests("", "GpuSkip.ScratchFolderProbe", &normal), 0) << normal;
  ASSERT_EQ(run_gpu_tests("SGML_TEST_GPU_ON_CPU=1", "GpuSkip.ScratchFolderProbe", &stand_in), 0) << stand_in;
  auto folder = [](const std::string& out) {
    const size_t at = out.find("scratch: ");
    return at == std::string::npos ? std::string() : out.substr(at + 9, out.find('\n', at) - at - 9);
  };
  EXPECT_NE(folder(normal), "") << normal;
  EXPECT_TRUE(contains(folder(normal), "/GpuSkip.ScratchFolderProbe/probe")) << normal;
  EXPECT_TRUE(contains(folder(stand_in), "/GpuOnCpu.GpuSkip.ScratchFolderProbe/probe")) << stand_in;
}

// Torch-dependent tests (TrainCuda's reference data, for one) skip where the reference interpreter has no torch.
// The probe is what the second test runs in a child whose interpreter cannot import anything.
TEST(TorchSkip, Probe) {
  SGML_SKIP_WITHOUT_TORCH();
  SUCCEED();
}

TEST(TorchSkip, WithoutTorchTestsSkipSayingWhy) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string out;
  EXPECT_EQ(test::run_command("env SGML_PYTHON=/bin/false SGML_REQUIRE_REFERENCE=0 '" + self +
                                  "' --gtest_filter=TorchSkip.Probe", &out), 0)
      << out;
  EXPECT_TRUE(contains(out, "[  SKIPPED ] TorchSkip.Probe")) << out;
  EXPECT_TRUE(contains(out, "no PyTorch: /bin/false -c 'import torch' failed")) << out;
  // Where the suite requires its references (scripts/test.sh), the same test fails saying why.
  EXPECT_NE(test::run_command("env SGML_PYTHON=/bin/false SGML_REQUIRE_REFERENCE=1 '" + self +
                                  "' --gtest_filter=TorchSkip.Probe", &out), 0)
      << out;
  EXPECT_TRUE(contains(out, "SGML_REQUIRE_REFERENCE is set, but no PyTorch: /bin/false -c 'import torch' failed"))
      << out;
}

}  // namespace
