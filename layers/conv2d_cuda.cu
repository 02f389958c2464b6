// CUDA convolution: cuDNN's legacy convolution API (documented in cuDNN 9), NCHW float, strict fp32
// (CUDNN_FMA_MATH on the descriptor and on every algorithm used: no TF32). The algorithm of each pass is chosen
// once per geometry and device from cuDNN's heuristics (listed fastest first) and cached; its workspace is the
// context's shared one.
#include <array>
#include <climits>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/conv2d.h"
#include "layers/cudnn_descriptors.h"

namespace sgml::cuda {

namespace {

// The most workspace an algorithm may ask for. A faster algorithm that needs more is skipped: ResNet-101 at batch
// 256 leaves little room beside its activations.
constexpr size_t kMaxWorkspaceBytes = size_t(1) << 30;

enum Pass { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
const char* const kPassName[] = {"forward", "backward data", "backward filter"};
// Used when no heuristic choice qualifies: the implicit-GEMM kernels that support every geometry, FMA math, and
// need little or no workspace.
const int kFallbackAlgo[] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0,
                             CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0};

// The descriptors of one geometry: x (N,C,H,W), y (N,K,P,Q), w (K,C,R,S) and the convolution.
struct ConvDescriptors {
  CudnnTensorDescriptor x, y;
  CudnnFilterDescriptor w;
  CudnnConvolutionDescriptor conv;
  explicit ConvDescriptors(const Conv2dGeometry& g)
      : x(g.n, g.c, g.h, g.w), y(g.n, g.k, g.p(), g.q()), w(g.k, g.c, g.r, g.s), conv(g.pad, g.stride) {}
};

struct Algorithm {
  int algo;          // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by pass
  size_t workspace;  // bytes
};

// One line of cuDNN's heuristic answer, whatever the pass.
struct Candidate {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnMathType_t math;
};

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

// The workspace `algo` needs with these descriptors (FMA math as set); throws if cuDNN does not support it here.
size_t workspace_bytes(Pass pass, int algo, cudnnHandle_t handle, const ConvDescriptors& d) {
  size_t bytes = 0;
  if (pass == kForward)
    SGML_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, d.x.get(), d.w.get(), d.conv.get(), d.y.get(),
                                                             cudnnConvolutionFwdAlgo_t(algo), &bytes));
  else if (pass == kBackwardData)
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.w.get(), d.y.get(), d.conv.get(),
                                                                  d.x.get(), cudnnConvolutionBwdDataAlgo_t(algo),
                                                                  &bytes));
  else
    SGML_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.x.get(), d.y.get(), d.conv.get(),
                                                                    d.w.get(), cudnnConvolutionBwdFilterAlgo_t(algo),
                                                                    &bytes));
  return bytes;
}

// The first candidate (the fastest by cuDNN's heuristics) that is supported, strict fp32 and within the workspace
// limit; the fallback algorithm, said on stderr, if none is.
Algorithm choose(Pass pass, const Conv2dGeometry& g, cudnnHandle_t handle, const ConvDescriptors& d) {
  int n = 0, k = 0, p = 0, q = 0;  // our output shape must be cuDNN's
  SGML_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(d.conv.get(), d.x.get(), d.w.get(), &n, &k, &p, &q));
  SGML_CHECK(n == g.n && k == g.k && p == g.p() && q == g.q(), "cuDNN's conv2d output (", n, ",", k, ",", p, ",", q,
             ") differs from (", g.n, ",", g.k, ",", g.p(), ",", g.q(), ")");
  Algorithm chosen{-1, 0};
  for (const Candidate& c : heuristics(pass, handle, d))
    if (c.status == CUDNN_STATUS_SUCCESS && c.math == CUDNN_FMA_MATH && c.memory <= kMaxWorkspaceBytes) {
      chosen = {c.algo, c.memory};
      break;
    }
  if (chosen.algo < 0) {
    chosen.algo = kFallbackAlgo[pass];
    std::fprintf(stderr,
                 "sgml: conv2d %s x(%d,%d,%d,%d) w(%d,%d,%d,%d) stride %d pad %d: no strict-fp32 cuDNN algorithm "
                 "among the heuristics' choices; using algorithm %d\n",
                 kPassName[pass], g.n, g.c, g.h, g.w, g.k, g.c, g.r, g.s, g.stride, g.pad, chosen.algo);
  }
  const size_t needed = workspace_bytes(pass, chosen.algo, handle, d);
  if (needed > chosen.workspace) chosen.workspace = needed;
  return chosen;
}

// The algorithm of (pass, geometry, device), chosen on first use.
Algorithm cached_algorithm(Pass pass, const Conv2dGeometry& g, int device, cudnnHandle_t handle,
                           const ConvDescriptors& d) {
  static std::mutex mutex;
  static std::map<std::array<int, 11>, Algorithm> cache;
  const std::array<int, 11> key{int(pass), device, g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, choose(pass, g, handle, d)).first;
  return it->second;
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
void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g, int device) {
  CudaContext& ctx = CudaContext::get(device);
  if (has_zero_dimension(g)) {
    zero_fill(y, g.p() > 0 && g.q() > 0 ? int64_t(g.n) * g.k * g.p() * g.q() : 0, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const ConvDescriptors d(g);
  const Algorithm a = cached_algorithm(kForward, g, device, ctx.cudnn(), d);
  void* workspace = ctx.workspace(a.workspace);
  const float one = 1.0f, zero = 0.0f;
  SGML_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, d.x.get(), x, d.w.get(), w, d.conv.get(),
                                           cudnnConvolutionFwdAlgo_t(a.algo), workspace, a.workspace, &zero,
                                           d.y.get(), y));
}

// dx (N,C,H,W) from dy (N,K,P,Q) and w (K,C,R,S); dx is overwritten (beta = 0).
void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g, int device) {
  CudaContext& ctx = CudaContext::get(device);
  if (has_zero_dimension(g)) {
    zero_fill(dx, int64_t(g.n) * g.c * g.h * g.w, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const ConvDescriptors d(g);
  const Algorithm a = cached_algorithm(kBackwardData, g, device, ctx.cudnn(), d);
  void* workspace = ctx.workspace(a.workspace);
  const float one = 1.0f, zero = 0.0f;
  SGML_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, d.w.get(), w, d.y.get(), dy, d.conv.get(),
                                                cudnnConvolutionBwdDataAlgo_t(a.algo), workspace, a.workspace, &zero,
                                                d.x.get(), dx));
}

// dw (K,C,R,S) from dy (N,K,P,Q) and x (N,C,H,W); dw is overwritten (beta = 0), never accumulated into.
void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g, int device) {
  CudaContext& ctx = CudaContext::get(device);
  if (has_zero_dimension(g)) {
    zero_fill(dw, int64_t(g.k) * g.c * g.r * g.s, ctx.stream());
    return;
  }
  check_int_sizes(g);
  const ConvDescriptors d(g);
  const Algorithm a = cached_algorithm(kBackwardFilter, g, device, ctx.cudnn(), d);
  void* workspace = ctx.workspace(a.workspace);
  const float one = 1.0f, zero = 0.0f;
  SGML_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, d.x.get(), x, d.y.get(), dy, d.conv.get(),
                                                  cudnnConvolutionBwdFilterAlgo_t(a.algo), workspace, a.workspace,
                                                  &zero, d.w.get(), dw));
}

}  // namespace sgml::cuda
