// CUDA convolution: cuDNN's legacy convolution API (documented in cuDNN 9), NCHW float. Under the fp32 math
// precision (the default, engine/math_precision.h) strictly fp32: CUDNN_FMA_MATH on the descriptor and on every
// algorithm used, no TF32. Under tf32, the heuristics' tensor-core (TF32) algorithms are allowed too; never
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which would round to half. The algorithms of each pass are ranked
// once per geometry, device and precision from cuDNN's heuristics (fastest first, then a last-resort implicit
// GEMM) and cached. A call runs the cached algorithm; if cuDNN refuses it at run time or its workspace (the
// context's shared one) cannot be allocated, the next ranked one is tried, and the one that worked is cached.
#include <array>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/math_precision.h"
#include "layers/conv2d.h"
#include "layers/cudnn_descriptors.h"
#include "layers/ranked_fallback.h"

namespace sgml::cuda {

namespace {

// The most workspace an algorithm may ask for. A faster algorithm that needs more is skipped: ResNet-101 at batch
// 256 leaves little room beside its activations.
constexpr size_t kMaxWorkspaceBytes = size_t(1) << 30;

enum Pass { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
const char* const kPassName[] = {"forward", "backward data", "backward filter"};
// Ranked last, after the heuristics' choices: the implicit-GEMM kernels that support every geometry, FMA math,
// and need little or no workspace.
const int kFallbackAlgo[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0};

// The math type the heuristics are asked with: strict fp32, or TF32 tensor cores allowed.
cudnnMathType_t descriptor_math(MathPrecision precision) {
  return precision == MathPrecision::Tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

// Whether an algorithm the heuristics offer with `math` may run under `precision`.
bool math_allowed(cudnnMathType_t math, MathPrecision precision) {
  if (math == CUDNN_FMA_MATH) return true;
  return precision == MathPrecision::Tf32 && (math == CUDNN_DEFAULT_MATH || math == CUDNN_TENSOR_OP_MATH);
}

// The descriptors of one geometry: x (N,C,H,W), y (N,K,P,Q), w (K,C,R,S) and the convolution.
struct ConvDescriptors {
  CudnnTensorDescriptor x, y;
  CudnnFilterDescriptor w;
  CudnnConvolutionDescriptor conv;
  ConvDescriptors(const Conv2dGeometry& g, MathPrecision precision)
      : x(g.n, g.c, g.h, g.w), y(g.n, g.k, g.p(), g.q()), w(g.k, g.c, g.r, g.s),
        conv(g.pad, g.stride, descriptor_math(precision)) {}
};

struct Algorithm {
  int algo;              // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by pass
  size_t workspace;      // bytes
  cudnnMathType_t math;  // set on the descriptor before the workspace query and every run
};

// One line of cuDNN's heuristic answer, whatever the pass.
struct Candidate {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnMathType_t math;
};

// By default the ranking is cuDNN's timing of every algorithm on this geometry (cudnnFind*, which allocates its own
// scratch buffers), as PyTorch's cudnn.benchmark does: on an H200 it made the fp32 ResNet-101 step 1.2x faster than
// the heuristics' order (BENCHMARKS.md). Only the first call of each geometry pays for it: the ranking is cached.
// SGML_CUDNN_BENCHMARK=0 keeps the heuristics' order (no timing runs at the first call).
bool measure_algorithms() {
  static const bool on = [] {
    const char* v = std::getenv("SGML_CUDNN_BENCHMARK");
    return v == nullptr || std::string(v) != "0";
  }();
  return on;
}

std::vector<Candidate> measured(Pass pass, cudnnHandle_t handle, const ConvDescriptors& d) {
  std::vector<Candidate> out;
  int returned = 0;
  cudnnStatus_t status;
  if (pass == kForward) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    status = cudnnFindConvolutionForwardAlgorithm(handle, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                  int(perf.size()), &returned, perf.data());
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  } else if (pass == kBackwardData) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    status = cudnnFindConvolutionBackwardDataAlgorithm(handle, d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                                                       int(perf.size()), &returned, perf.data());
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  } else {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    status = cudnnFindConvolutionBackwardFilterAlgorithm(handle, d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                                                         int(perf.size()), &returned, perf.data());
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  }
  // A failed search (it allocates its own buffers, which may not fit) leaves the heuristics to rank.
  if (status != CUDNN_STATUS_SUCCESS) {
    (void)cudaGetLastError();
    out.clear();
  }
  return out;
}

std::vector<Candidate> heuristics(Pass pass, cudnnHandle_t handle, const ConvDescriptors& d) {
  std::vector<Candidate> out;
  int count = 0, returned = 0;
  if (pass == kForward) {
    SGML_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(count > 0 ? count : 1);
    SGML_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                            int(perf.size()), &returned, perf.data()));
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  } else if (pass == kBackwardData) {
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(count > 0 ? count : 1);
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.w.get(), d.y.get(), d.conv.get(),
                                                                 d.x.get(), int(perf.size()), &returned,
                                                                 perf.data()));
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  } else {
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(count > 0 ? count : 1);
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.x.get(), d.y.get(), d.conv.get(),
                                                                   d.w.get(), int(perf.size()), &returned,
                                                                   perf.data()));
    for (int i = 0; i < returned; ++i) out.push_back({perf[i].algo, perf[i].status, perf[i].memory, perf[i].mathType});
  }
  return out;
}

// The workspace `algo` needs with these descriptors (with the math type set on them), in *bytes; a status other
// than success when cuDNN does not support `algo` here.
cudnnStatus_t workspace_bytes(Pass pass, int algo, cudnnHandle_t handle, const ConvDescriptors& d, size_t* bytes) {
  *bytes = 0;
  if (pass == kForward)
    return cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                   cudnnConvolutionFwdAlgo_t(algo), bytes);
  if (pass == kBackwardData)
    return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.w.get(), d.y.get(), d.conv.get(), d.x.get(),
                                                        cudnnConvolutionBwdDataAlgo_t(algo), bytes);
  return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.x.get(), d.y.get(), d.conv.get(), d.w.get(),
                                                        cudnnConvolutionBwdFilterAlgo_t(algo), bytes);
}

std::string geometry_text(Pass pass, const Conv2dGeometry& g) {
  return str_cat("conv2d ", kPassName[pass], " x(", g.n, ",", g.c, ",", g.h, ",", g.w, ") w(", g.k, ",", g.c, ",", g.r,
                 ",", g.s, ") stride ", g.stride, " pad ", g.pad);
}

// Every candidate that is supported, of a math type the precision allows and within the workspace limit, in the
// measured order (the fastest first; or the heuristics' order, SGML_CUDNN_BENCHMARK=0), then the last-resort
// algorithm; each with the workspace it needs.
std::vector<Algorithm> rank_algorithms(Pass pass, const Conv2dGeometry& g, MathPrecision precision,
                                       cudnnHandle_t handle, ConvDescriptors& d) {
  int n = 0, k = 0, p = 0, q = 0;  // our output shape must be cuDNN's
  SGML_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.x.get(), d.w.get(), &n, &k, &p, &q));
  SGML_CHECK(n == g.n && k == g.k && p == g.p() && q == g.q(), "cuDNN's conv2d output (", n, ",", k, ",", p, ",", q,
             ") differs from (", g.n, ",", g.k, ",", g.p(), ",", g.q(), ")");
  std::vector<Algorithm> ranked;
  const auto add = [&](int algo, size_t memory, cudnnMathType_t math) {
    for (const Algorithm& a : ranked)
      if (a.algo == algo && a.math == math) return;
    size_t bytes = 0;
    d.conv.set_math(math);
    // A refusal here only drops the candidate; the status is deliberately not thrown.
    if (workspace_bytes(pass, algo, handle, d, &bytes) != CUDNN_STATUS_SUCCESS) {
      (void)cudaGetLastError();
      return;
    }
    ranked.push_back({algo, bytes > memory ? bytes : memory, math});
  };
  std::vector<Candidate> candidates = measure_algorithms() ? measured(pass, handle, d) : std::vector<Candidate>{};
  if (candidates.empty()) candidates = heuristics(pass, handle, d);
  for (const Candidate& c : candidates)
    if (c.status == CUDNN_STATUS_SUCCESS && math_allowed(c.math, precision) && c.memory <= kMaxWorkspaceBytes)
      add(c.algo, c.memory, c.math);
  if (ranked.empty())
    std::fprintf(stderr, "sgml: %s: no %s cuDNN algorithm among the heuristics' choices; using algorithm %d\n",
                 geometry_text(pass, g).c_str(), precision == MathPrecision::Tf32 ? "fp32 or TF32" : "strict-fp32",
                 kFallbackAlgo[pass]);
  add(kFallbackAlgo[pass], 0, CUDNN_FMA_MATH);
  SGML_CHECK(!ranked.empty(), geometry_text(pass, g), ": cuDNN supports none of the heuristics' algorithms nor ",
             "algorithm ", kFallbackAlgo[pass]);
  return ranked;
}

// The ranked algorithms of one (pass, geometry, device), and which of them worked last.
struct Plan {
  std::vector<Algorithm> ranked;
  size_t current = 0;
};

using PlanKey = std::array<int, 12>;

struct PlanCache {
  std::mutex mutex;
  std::map<PlanKey, Plan> plans;
};

PlanCache& plan_cache() {
  static PlanCache* cache = new PlanCache();  // never destroyed, like the contexts
  return *cache;
}

PlanKey plan_key(Pass pass, const Conv2dGeometry& g, int device, MathPrecision precision) {
  return {int(pass), device, int(precision), g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad};
}

// A copy of the plan of (pass, geometry, device, precision), ranked on first use.
Plan cached_plan(Pass pass, const Conv2dGeometry& g, int device, MathPrecision precision, cudnnHandle_t handle,
                 ConvDescriptors& d) {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  const PlanKey key = plan_key(pass, g, device, precision);
  auto it = cache.plans.find(key);
  if (it == cache.plans.end())
    it = cache.plans.emplace(key, Plan{rank_algorithms(pass, g, precision, handle, d), 0}).first;
  return it->second;
}

void remember_working(Pass pass, const Conv2dGeometry& g, int device, MathPrecision precision, size_t index) {
  PlanCache& cache = plan_cache();
  std::lock_guard<std::mutex> lock(cache.mutex);
  cache.plans[plan_key(pass, g, device, precision)].current = index;
}

std::atomic<int> g_injected_failures{0};

// "" if no failure is to be injected into this attempt, else the injected failure's text.
std::string injected_failure() {
  int left = g_injected_failures.load();
  while (left > 0)
    if (g_injected_failures.compare_exchange_weak(left, left - 1)) return "failure injected by a test";
  return "";
}

// Whether cuDNN refused the call before launching anything: a bad parameter, no support for it, or no memory for
// it. Any other failure (execution failed, an internal error) may come after some of its kernels ran.
bool refused_before_launch(cudnnStatus_t status) {
  const int category = CUDNN_STATUS_CATEGORY(status);
  return category == CUDNN_STATUS_BAD_PARAM || category == CUDNN_STATUS_NOT_SUPPORTED ||
         status == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
         status == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED;
}

// Runs one pass: run(algorithm, workspace) launches it and returns cuDNN's status. Tries the ranked algorithms
// from the one that worked last, and caches the one that works. `adds_into_output` (beta = 1): the next algorithm
// is tried only after a refusal before launch; after any other failure part of a result may already have been
// added, and a second algorithm would add it again, so the pass fails instead.
template <class Run>
void run_ranked(Pass pass, const Conv2dGeometry& g, MathPrecision precision, CudaContext& ctx, ConvDescriptors& d,
                bool adds_into_output, Run run) {
  const Plan plan = cached_plan(pass, g, ctx.device(), precision, ctx.cudnn(), d);
  const auto attempt = [&](size_t i) -> std::string {
    const Algorithm& a = plan.ranked[i];
    std::string why = injected_failure();
    if (why.empty()) {
      void* workspace = nullptr;
      try {
        workspace = ctx.workspace(a.workspace);
      } catch (const Error& e) {  // no memory for this one: one that needs less may still fit
        return str_cat("algorithm ", a.algo, ": its workspace of ", a.workspace, " bytes: ", e.what());
      }
      d.conv.set_math(a.math);
      const cudnnStatus_t status = run(a, workspace);  // checked here, not with SGML_CUDNN_CHECK: a failure is
      if (status == CUDNN_STATUS_SUCCESS) return "";  // a reason to try the next algorithm
      why = cudnnGetErrorString(status);
      const cudaError_t pending = cudaGetLastError();
      if (pending != cudaSuccess) why += "; CUDA reports: " + cuda_error_text(pending);
      if (adds_into_output && !refused_before_launch(status))
        SGML_FAIL(geometry_text(pass, g), ": algorithm ", a.algo, " failed after it may have added part of its ",
                  "result into the gradient (", why, "); no other algorithm can run in its place");
    }
    return str_cat("algorithm ", a.algo, ": ", why);
  };
  const size_t worked = first_that_works(plan.ranked.size(), plan.current, attempt, geometry_text(pass, g));
  if (worked != plan.current) {
    remember_working(pass, g, ctx.device(), precision, worked);
    std::fprintf(stderr, "sgml: %s: algorithm %d failed; using algorithm %d from now on\n",
                 geometry_text(pass, g).c_str(), plan.ranked[plan.current].algo, plan.ranked[worked].algo);
  }
}

// cuDNN rejects zero dimensions; with one, every output value is a sum over nothing (or the output is empty).
bool has_zero_dimension(const Conv2dGeometry& g) {
  return g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0 || g.k == 0 || g.r == 0 || g.s == 0;
}

// The legacy API describes tensors with int dimensions and strides; larger batches must be split by the caller.
void check_int_sizes(const Conv2dGeometry& g) {
  const int64_t x = int64_t(g.n) * g.c * g.h * g.w, y = int64_t(g.n) * g.k * g.p() * g.q(),
                w = int64_t(g.k) * g.c * g.r * g.s;
  SGML_CHECK(x <= INT_MAX && y <= INT_MAX && w <= INT_MAX, "conv2d on cuDNN needs fewer than 2^31 elements per ",
             "tensor: x ", x, ", y ", y, ", w ", w, " (split the batch)");
}

void zero_fill(float* out, int64_t count, cudaStream_t stream) {
  if (count > 0) SGML_CUDA_CHECK(cudaMemsetAsync(out, 0, size_t(count) * sizeof(float), stream));
}

}  // namespace

// y (N,K,P,Q) = x (N,C,H,W) cross-correlated with w (K,C,R,S); y is overwritten (beta = 0).
void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g) {
  CudaContext& ctx = CudaContext::current();
  if (has_zero_dimension(g)) {
    zero_fill(y, g.p() > 0 && g.q() > 0 ? int64_t(g.n) * g.k * g.p() * g.q() : 0, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const MathPrecision precision = math_precision();
  ConvDescriptors d(g, precision);
  const float one = 1.0f, zero = 0.0f;
  run_ranked(kForward, g, precision, ctx, d, /*adds_into_output=*/false, [&](const Algorithm& a, void* workspace) {
    return cudnnConvolutionForward(ctx.cudnn(), &one, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                   cudnnConvolutionFwdAlgo_t(a.algo), workspace, a.workspace, &zero, d.y.get(), y);
  });
}

// dx (N,C,H,W) from dy (N,K,P,Q) and w (K,C,R,S); dx is overwritten (beta = 0) or added into (beta = 1). With
// beta = 1, only an algorithm refused before it launched is replaced by the next (run_ranked).
void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g, bool accumulate) {
  CudaContext& ctx = CudaContext::current();
  if (has_zero_dimension(g)) {  // a sum over nothing: zero, which adds nothing
    if (!accumulate) zero_fill(dx, int64_t(g.n) * g.c * g.h * g.w, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const MathPrecision precision = math_precision();
  ConvDescriptors d(g, precision);
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  run_ranked(kBackwardData, g, precision, ctx, d, accumulate, [&](const Algorithm& a, void* workspace) {
    return cudnnConvolutionBackwardData(ctx.cudnn(), &one, d.w.get(), w, d.y.get(), dy, d.conv.get(),
                                        cudnnConvolutionBwdDataAlgo_t(a.algo), workspace, a.workspace, &beta,
                                        d.x.get(), dx);
  });
}

// dw (K,C,R,S) from dy (N,K,P,Q) and x (N,C,H,W); dw is overwritten (beta = 0) or added into (beta = 1: the
// parameter's flat gradient buffer).
void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g, bool accumulate) {
  CudaContext& ctx = CudaContext::current();
  if (has_zero_dimension(g)) {
    if (!accumulate) zero_fill(dw, int64_t(g.k) * g.c * g.r * g.s, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const MathPrecision precision = math_precision();
  ConvDescriptors d(g, precision);
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  run_ranked(kBackwardFilter, g, precision, ctx, d, accumulate, [&](const Algorithm& a, void* workspace) {
    return cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, d.x.get(), x, d.y.get(), dy, d.conv.get(),
                                          cudnnConvolutionBwdFilterAlgo_t(a.algo), workspace, a.workspace, &beta,
                                          d.w.get(), dw);
  });
}

void conv2d_fail_next_attempts_for_testing(int n) { g_injected_failures.store(n > 0 ? n : 0); }

}  // namespace sgml::cuda
