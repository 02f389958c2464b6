// CUDA error hygiene. In a CUDA build, some of it runs without a GPU (sticky errors are named, a failed context
// is remembered); the rest needs a GPU and skips without one (fails with SGML_REQUIRE_GPU=1): a failed call
// leaves no pending error, ops refuse tensors on different devices before any kernel, a refused cuDNN algorithm
// falls back to the next one, a device index beyond the GPUs is refused, and releasing the cache keeps the
// caller's current device.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine/check.h"
#include "engine/device.h"
#include "engine/gpu_memory.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/elementwise.h"
#include "layers/l2_normalize.h"
#include "layers/max_pool2d.h"
#include "tests/support/test_support.h"

#ifdef SGML_WITH_CUDA
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#endif

using namespace sgml;

namespace {

using sgml::test::error_of;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

#ifdef SGML_WITH_CUDA

const char* const kCudaItself = "it tests CUDA's own errors, devices and fallbacks";

// ---------------------------------------------------------------- CUDA build, GPU or not

// Before the fix the failed call stayed the runtime's last error, and the next launch check reported it as its own.
// Needs a GPU: without a driver the runtime's initialisation error comes back on every call, peek included.
TEST(CudaErrorHygiene, AFailedCallLeavesNoPendingError) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  // An ordinal no machine has.
  const std::string what = error_of([] { SGML_CUDA_CHECK(cudaSetDevice(1 << 20)); });
  EXPECT_TRUE(contains(what, "CUDA call failed: cudaSetDevice(1 << 20)")) << what;
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  void* p = nullptr;
  EXPECT_NE(error_of([&] { SGML_CUDA_CHECK(cudaMalloc(&p, size_t(1) << 50)); }), "");  // 1 PiB
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
}

TEST(CudaErrorHygiene, StickyErrorsSayTheProcessMustRestart) {
  EXPECT_TRUE(cuda_error_is_sticky(cudaErrorIllegalAddress));
  EXPECT_TRUE(cuda_error_is_sticky(cudaErrorLaunchFailure));
  EXPECT_FALSE(cuda_error_is_sticky(cudaErrorMemoryAllocation));
  EXPECT_TRUE(contains(cuda_error_text(cudaErrorIllegalAddress), "cannot be cleared"));
  EXPECT_TRUE(contains(cuda_error_text(cudaErrorIllegalAddress), "restarted"));
  EXPECT_FALSE(contains(cuda_error_text(cudaErrorMemoryAllocation), "sticky"));
  EXPECT_TRUE(contains(cuda_error_text(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation"));
}

// A context that failed is not created again on every op: the first error comes back unchanged.
TEST(CudaErrorHygiene, AFailedContextIsRememberedAndItsErrorRethrown) {
  const int device = cuda_available() ? 1 << 20 : 0;  // fails for lack of that GPU, or of any
  const std::string first = error_of([&] { CudaContext::get(device); });
  ASSERT_NE(first, "");
  EXPECT_EQ(error_of([&] { CudaContext::get(device); }), first);
  if (cuda_available()) EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);  // (without a driver, init errors persist)
}

// ---------------------------------------------------------------- GPU

TEST(CudaDevices, AnIndexBeyondTheGpusIsRefusedClearly) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  const int count = gpu_device_count();
  const std::string text = "cuda:" + std::to_string(count);
  std::string what = error_of([&] { parse_device(text); });
  EXPECT_TRUE(contains(what, text + " does not exist")) << what;
  what = error_of([&] { Tensor::empty({4}, Device::cuda(count)); });
  EXPECT_TRUE(contains(what, text + " does not exist")) << what;
  EXPECT_FALSE(contains(what, "invalid device ordinal")) << what;
  EXPECT_EQ(parse_device("cuda:0"), Device::cuda(0));
}

TEST(CudaDevices, ReleasingTheCacheKeepsTheCurrentDevice) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  if (gpu_device_count() < 2) GTEST_SKIP() << "needs two GPUs";
  // Blocks cached on both devices; the cache is released device by device (0, then 1).
  gpu_free(gpu_alloc(1 << 20, 0), 1 << 20, 0);
  gpu_free(gpu_alloc(1 << 20, 1), 1 << 20, 1);
  ASSERT_EQ(cudaSetDevice(0), cudaSuccess);
  gpu_empty_cache();
  int current = -1;
  ASSERT_EQ(cudaGetDevice(&current), cudaSuccess);
  EXPECT_EQ(current, 0);
}

// The counters are read under the allocator's lock; here only that they add up.
TEST(CudaDevices, MemoryCountersFollowAllocations) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  const size_t before = gpu_bytes_in_use();
  {
    Tensor t = Tensor::empty({1 << 20}, Device::cuda());
    EXPECT_GE(gpu_bytes_in_use(), before + (size_t(4) << 20));
    EXPECT_GE(gpu_peak_bytes_in_use(), gpu_bytes_in_use());
  }
  EXPECT_EQ(gpu_bytes_in_use(), before);
}

// Before the fix these ran the kernel on a host pointer: an illegal address, which poisons the GPU for the rest
// of the process. Now the dispatch layer refuses them, and the GPU still works afterwards.
TEST(CudaDevices, OpsRefuseTensorsOnDifferentDevices) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  const Device gpu = Device::cuda(), cpu = Device::cpu();
  const Tensor x = test::random_tensor({2, 3, 4, 4}, 1).to(gpu), gamma = Tensor::full({3}, 1.0f, gpu);
  const Tensor beta = Tensor::zeros({3}, gpu);
  Tensor mean_gpu = Tensor::zeros({3}, gpu), var_gpu = Tensor::full({3}, 1.0f, gpu);
  Tensor running_mean_cpu = Tensor::zeros({3}, cpu);
  std::string what = error_of(
      [&] { batch_norm2d_forward_train(x, gamma, beta, running_mean_cpu, var_gpu, 0.1f, 1e-5f); });
  EXPECT_TRUE(contains(what, "running_mean on cpu")) << what;
  what = error_of([&] { batch_norm2d_forward_eval(x, gamma, Tensor::zeros({3}, cpu), mean_gpu, var_gpu, 1e-5f); });
  EXPECT_TRUE(contains(what, "beta on cpu")) << what;
  const Tensor save_mean = Tensor::zeros({3}, gpu), save_invstd_cpu = Tensor::full({3}, 1.0f, cpu);
  what = error_of([&] { batch_norm2d_backward(x, x, gamma, save_mean, save_invstd_cpu); });
  EXPECT_TRUE(contains(what, "save_invstd on cpu")) << what;

  const L2NormalizeResult normalised = l2_normalize_forward(test::random_tensor({4, 8}, 2).to(gpu));
  const Tensor yn = normalised.y, norms = normalised.norms;
  what = error_of([&] { l2_normalize_backward(test::random_tensor({4, 8}, 3), yn, norms); });
  EXPECT_TRUE(contains(what, "dy on cpu")) << what;
  what = error_of([&] { l2_normalize_backward(yn, yn, norms.to(cpu)); });
  EXPECT_TRUE(contains(what, "norms on cpu")) << what;

  const MaxPool2dResult pooled = max_pool2d_forward(x, 3, 2, 1);
  const Tensor yp = pooled.y, argmax = pooled.argmax;
  what = error_of([&] { max_pool2d_backward(yp, argmax.to(cpu), x.shape(), 3, 2, 1); });
  EXPECT_TRUE(contains(what, "argmax on cpu")) << what;

  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  EXPECT_EQ(add(Tensor::full({3}, 1.0f, gpu), Tensor::full({3}, 2.0f, gpu)).to_vector(), std::vector<float>(3, 3.0f));
}

// cuDNN may refuse a ranked algorithm at run time (or its workspace may not fit): the next one runs, gives the
// same result as the CPU, and is cached. Failures are injected, as no GPU refuses on demand.
TEST(CudaConvFallback, TheNextRankedAlgorithmRunsWhenOneFails) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  const Tensor x = test::random_tensor({2, 5, 11, 10}, 4), w = test::random_tensor({6, 5, 3, 3}, 5);
  const Tensor want = conv2d_forward(x, w, 1, 1);
  // Each round fails the cached algorithm once, so the next ranked one (wrapping around) must take over.
  for (int round : {1, 2}) {
    cuda::conv2d_fail_next_attempts_for_testing(1);
    const Tensor got = conv2d_forward(x.to(Device::cuda()), w.to(Device::cuda()), 1, 1);
    cuda::conv2d_fail_next_attempts_for_testing(0);
    EXPECT_LT(test::relative_error(got, want), 1e-4) << "round " << round;
  }
  const Tensor again = conv2d_forward(x.to(Device::cuda()), w.to(Device::cuda()), 1, 1);
  EXPECT_LT(test::relative_error(again, want), 1e-4);
}

TEST(CudaConvFallback, WhenEveryAlgorithmFailsTheErrorListsEach) {
  SGML_SKIP_WITHOUT_GPU();
  SGML_SKIP_IN_STAND_IN_RUN(kCudaItself);
  const Tensor x = test::random_tensor({1, 3, 7, 9}, 6).to(Device::cuda());
  const Tensor w = test::random_tensor({4, 3, 3, 3}, 7).to(Device::cuda());
  cuda::conv2d_fail_next_attempts_for_testing(1000);
  const std::string what = error_of([&] { conv2d_forward(x, w, 1, 1); });
  cuda::conv2d_fail_next_attempts_for_testing(0);
  EXPECT_TRUE(contains(what, "conv2d forward x(1,3,7,9) w(4,3,3,3) stride 1 pad 1: no candidate worked")) << what;
  EXPECT_TRUE(contains(what, "candidate 1 of ")) << what;
  EXPECT_TRUE(contains(what, "failure injected by a test")) << what;
  EXPECT_EQ(conv2d_forward(x, w, 1, 1).shape(), (Shape{1, 4, 7, 9}));  // and it works again
}

#endif  // SGML_WITH_CUDA

}  // namespace
