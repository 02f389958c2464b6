// Helpers shared by the tests: random tensors, error norms, scratch folders and the PyTorch reference scripts.
#pragma once
#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"

// First statement of every test that needs a GPU. Without a usable GPU the test skips and says why (the CUDA
// runtime's reason: a driver too old for this build must not look like a machine without GPU). With
// SGML_REQUIRE_GPU=1 it fails instead, so that a GPU machine whose GPU went missing cannot pass by skipping. In a
// stand-in run (SGML_TEST_GPU_ON_CPU=1, see test::gpu()) the test runs, with the CPU in place of the GPU.
#define SGML_SKIP_WITHOUT_GPU()                                                                           \
  do {                                                                                                    \
    if (!::sgml::test::gpu_stand_in() && !::sgml::cuda_available()) {                                     \
      if (::sgml::gpu_required())                                                                         \
        FAIL() << "SGML_REQUIRE_GPU is set, but no usable GPU was found: " << ::sgml::cuda_unavailable_reason(); \
      GTEST_SKIP() << "no usable GPU: " << ::sgml::cuda_unavailable_reason();                             \
    }                                                                                                     \
  } while (0)

// Second statement of a GPU test of CUDA itself (TF32's rounding, a failed library call, the device list), which
// uses Device::cuda() rather than test::gpu(): the CPU cannot stand in for it, so a stand-in run skips it.
#define SGML_SKIP_IN_STAND_IN_RUN(why)                                                                    \
  do {                                                                                                    \
    if (::sgml::test::gpu_stand_in()) GTEST_SKIP() << "the CPU cannot stand in for the GPU here: " << (why);  \
  } while (0)

// A GPU test's check that an op's result stayed on the GPU (always true in a stand-in run).
#define SGML_ASSERT_ON_GPU(tensor) ASSERT_TRUE(::sgml::test::gpu_stand_in() || (tensor).is_cuda())

// First statement of every test that runs a PyTorch reference: skips, with the import error, where the
// reference interpreter has no torch. With SGML_REQUIRE_REFERENCE=1 (scripts/test.sh sets it: its setup installs
// torch) it fails instead, so that a suite whose references went missing cannot pass by skipping.
#define SGML_SKIP_WITHOUT_TORCH() SGML_SKIP_WITHOUT_MODULE("torch", "PyTorch")
// The same for another module of the reference interpreter ("scipy.io", "SciPy").
#define SGML_SKIP_WITHOUT_MODULE(module, what)                                                             \
  do {                                                                                                     \
    std::string sgml_why_missing_;                                                                         \
    if (!::sgml::test::python_module_available(module, &sgml_why_missing_)) {                              \
      if (::sgml::test::reference_required())                                                              \
        FAIL() << "SGML_REQUIRE_REFERENCE is set, but no " << (what) << ": " << sgml_why_missing_;         \
      GTEST_SKIP() << "no " << (what) << ": " << sgml_why_missing_;                                        \
    }                                                                                                      \
  } while (0)

namespace sgml::test {

// The device of the GPU tests: the GPU, or the CPU in a stand-in run. The suite runs every GPU test twice: as
// itself (it skips without a GPU) and as "GpuOnCpu.<name>" with SGML_TEST_GPU_ON_CPU=1, where the CPU stands in for
// the GPU (tests/CMakeLists.txt). A stand-in result is a CPU result, so its comparison with the CPU twin checks
// nothing about CUDA; what it does check, on every machine, is the test around it: a state loaded into an optimiser
// without its groups, a shape or an option the API refuses, a check that cannot hold. Without it such a test would
// first fail on a rare GPU lease. The GPU tests are those named *Cuda* or *Gpu*.
bool gpu_stand_in();                  // SGML_TEST_GPU_ON_CPU is 1 (any other value, or none: a normal run)
Device gpu(int index = 0);            // Device::cuda(index), or the CPU in a stand-in run
const char* gpu_device_flag();        // what `sgml --device` is given for it: "cuda" or "cpu"

std::string source_dir();   // the repository root
// The whole file, byte for byte; empty when it cannot be read (the test's check of the content then fails).
std::string file_text(const std::string& path);
// Writes `text` to path byte for byte, replacing what was there.
void write_file_text(const std::string& path, const std::string& text);
std::string scratch_dir(const std::string& name);  // a fresh, empty folder under the build tree
std::string scratch_root(const ::testing::TestInfo* info);  // the folder of a test's scratch_dir()s
// Removes a folder (a scratch dataset or run) when it goes out of scope, the test passed or not: for the large ones.
struct RemovedAtExit {
  std::string dir;
  ~RemovedAtExit();
};

// The interpreter with torch: $SGML_PYTHON, else /usr/bin/python3.
std::string reference_python();
// Whether reference_python() can import torch (checked once); when not, *why says what the import printed.
bool torch_available(std::string* why = nullptr);
// Whether reference_python() can import `module` (checked once per module); when not, *why says what it printed.
bool python_module_available(const std::string& module, std::string* why = nullptr);
// SGML_REQUIRE_REFERENCE is 1: a missing reference module fails its tests instead of skipping them.
bool reference_required();
// Runs `python tests/reference/SCRIPT ARGS...`; throws with the script's output when it fails.
void run_reference(const std::string& script, const std::vector<std::string>& args);
// Runs a shell command and returns its exit status; its stdout+stderr go to *output when given.
int run_command(const std::string& command, std::string* output = nullptr);
// The sgml program of this build (tests call it as sgml() after `using test::sgml;`).
std::string sgml();
// run_command under `timeout`: a hung command fails its test after 10 minutes instead of stalling the suite.
int run_cli(const std::string& command, std::string* output = nullptr);
// The options of a short training run on the CPU for the CLI tests of the losses: ResNet-18 at 32 px from scratch,
// 3 steps of 4 classes x 3 images, no evaluation, seed 3.
extern const char* const kSmallLossRun;

// The records of a JSON-lines file (a run's metrics.jsonl) that have `key` ("loss": the steps), in file order.
std::vector<nlohmann::json> jsonl_records(const std::string& path, const std::string& key);

// Uniform values in [lo, hi), reproducible from the seed.
Tensor random_tensor(const Shape& shape, unsigned seed, float lo = -1.0f, float hi = 1.0f);
// The message of the sgml::Error `f` throws; empty when it throws none.
std::string error_of(const std::function<void()>& f);
// ||a - b|| / max(||b||, 1e-12) over all elements (host copies are taken as needed).
double relative_error(const Tensor& a, const Tensor& b);
double relative_error(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace sgml::test
