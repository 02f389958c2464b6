// CUDA batch norm, handwritten (not cuDNN's) so that its arithmetic is the CPU twin's: per-channel sums in double,
// y and dx in float with the same formulas, the same per-channel factors and the same rounding of each operation.
// Reductions are deterministic: each channel is split into a number of blocks that depends only on the shape, each
// block sums its share in a fixed tree, and one thread per channel adds the block partials in order (no float atomics
// anywhere).
//
// Speed: all of these passes are memory-bound (ResNet-101 at batch 164 moves about 10 GB per pass over its batch-norm
// activations). The reductions keep kUnroll loads in flight per thread (a thread's values are still added in the
// order of its walk, so the sums do not depend on the unrolling); the per-plane passes read and write float4 when
// the plane length and the pointers allow, and pack several small planes (7x7, 14x14) into one block.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <initializer_list>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/cuda_vectors.cuh"
#include "layers/batch_norm2d.h"

namespace sgml::cuda {

namespace {

constexpr int kReduceThreads = 256;
constexpr int64_t kValuesPerBlock = 16 * kReduceThreads;  // below this much work per block, fewer blocks
constexpr int64_t kTargetBlocks = 2048;                    // enough blocks for every SM when channels are few

// Blocks per channel for the reductions over the channel's M = N*HW values.
int splits_for(const BatchNormShape& s) {
  const int64_t m = int64_t(s.n) * s.hw;
  const int64_t by_work = (m + kValuesPerBlock - 1) / kValuesPerBlock;
  const int64_t by_grid = std::max<int64_t>(1, kTargetBlocks / std::max(s.c, 1));
  return int(std::max<int64_t>(1, std::min(by_work, by_grid)));
}

// Sum of v over the block, valid in thread 0; a fixed shuffle tree, then a fixed tree over the warps' partials.
// Every thread calls it; blockDim.x is a multiple of 32. scratch: 32 doubles of shared memory.
__device__ double block_sum(double v, double* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? scratch[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  __syncthreads();  // scratch is free again
  return v;
}

// Walks the values of one channel in flat order j = n*HW + i (i within the plane) from j = start in steps of
// `step`, carrying (n, i) forward without a division per value.
struct ChannelWalk {
  int64_t n;
  int i;
  int64_t dn;
  int di;
  __device__ ChannelWalk(int64_t start, int64_t step, int hw)
      : n(start / hw), i(int(start % hw)), dn(step / hw), di(int(step % hw)) {}
  __device__ void next(int hw) {
    n += dn;
    i += di;
    if (i >= hw) {  // i, di < hw, so one carry at most
      i -= hw;
      ++n;
    }
  }
};

constexpr int kUnroll = 4;  // loads in flight per thread in the reductions

// The next up to kUnroll positions of a walk: at[u] is the flat index into (N,C,HW) of value u, valid[u] whether
// the walk had one left. The caller issues all the loads before using any, so they are in flight together.
struct WalkBatch {
  int64_t at[kUnroll];
  bool valid[kUnroll];
};
__device__ WalkBatch next_batch(ChannelWalk& k, int n_images, int channels, int c, int hw) {
  WalkBatch b;
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    b.valid[u] = k.n < n_images;
    b.at[u] = b.valid[u] ? (k.n * channels + c) * hw + k.i : 0;
    if (b.valid[u]) k.next(hw);
  }
  return b;
}

// Block (c, split) sums, over its share of channel c of x (N,C,HW), d and d² with d = x - x[0][c][0]: shifting by
// a value of the channel keeps var = E[d²] - E[d]² exact to double precision even when |mean| >> std.
// partials (C, splits, 2).
__global__ void bn_stats_partial_kernel(double* partials, const float* x, int n_images, int channels, int hw) {
  __shared__ double scratch[32];
  const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const double shift = x[int64_t(c) * hw];
  double sum = 0.0, sq = 0.0;
  ChannelWalk k(int64_t(split) * blockDim.x + threadIdx.x, int64_t(splits) * blockDim.x, hw);
  while (k.n < n_images) {
    const WalkBatch b = next_batch(k, n_images, channels, c, hw);
    float v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = b.valid[u] ? x[b.at[u]] : 0.0f;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (b.valid[u]) {
        const double d = double(v[u]) - shift;
        sum += d;
        sq += d * d;
      }
  }
  sum = block_sum(sum, scratch);
  sq = block_sum(sq, scratch);
  if (threadIdx.x == 0) {
    partials[(int64_t(c) * splits + split) * 2 + 0] = sum;
    partials[(int64_t(c) * splits + split) * 2 + 1] = sq;
  }
}

// One thread per channel: batch mean and biased variance from the partials, in double as the CPU twin; saves
// mean and 1/sqrt(var + eps) (C) and updates the running statistics (C) with the unbiased variance.
__global__ void bn_stats_finish_kernel(float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                                       const double* partials, const float* x, int channels, int hw, int splits,
                                       int64_t m, float momentum, float eps) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double sum = 0.0, sq = 0.0;
  for (int s = 0; s < splits; ++s) {
    sum += partials[(int64_t(c) * splits + s) * 2 + 0];
    sq += partials[(int64_t(c) * splits + s) * 2 + 1];
  }
  const double shifted_mean = sum / m;
  const double mean = double(x[int64_t(c) * hw]) + shifted_mean;
  double var = sq / m - shifted_mean * shifted_mean;
  if (var < 0.0) var = 0.0;  // rounding must not make it negative; a NaN stays NaN, as on the CPU
  const double invstd = 1.0 / sqrt(var + eps);
  save_mean[c] = float(mean);
  save_invstd[c] = float(invstd);
  running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean);
  running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * var * m / (m - 1));
}

// The per-plane passes: thread (x, y) of block (bx, by) handles plane bx * blockDim.y + threadIdx.y of the (N*C)
// planes, and within it the vectors by * blockDim.x + threadIdx.x, stepping by gridDim.y * blockDim.x. A vector is
// V consecutive floats (engine/cuda_vectors.cuh): V = 4 when HW % 4 == 0 and every pointer is 16-byte aligned
// (then no vector crosses a plane), else 1.

// The plane this thread works on, or -1 past the last one.
__device__ int64_t tile_plane(int64_t planes) {
  const int64_t plane = int64_t(blockIdx.x) * blockDim.y + threadIdx.y;
  return plane < planes ? plane : -1;
}
// The vectors [0, hw / V) of the plane over the threads of the blocks that share blockIdx.x.
template <int V>
__device__ StrideRange plane_vectors(int hw) {
  return {int64_t(blockIdx.y) * blockDim.x + threadIdx.x, int64_t(gridDim.y) * blockDim.x, hw / V};
}

// y = x * scale + shift of the plane's channel, as the CPU twin computes them: every operation rounded on its own
// (the _rn intrinsics forbid contraction into a fused multiply-add), so y and the ReLU masks recomputed from x in
// the backward are the CPU's bit for bit. Training (mean and invstd are the batch's): scale = invstd * gamma,
// shift = beta - mean * scale.
struct TrainAffine {
  const float *gamma, *beta, *mean, *invstd;
  __device__ void operator()(int c, float& scale, float& shift) const {
    scale = __fmul_rn(invstd[c], gamma[c]);
    shift = __fsub_rn(beta[c], __fmul_rn(mean[c], scale));
  }
};
// Inference: scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale.
struct EvalAffine {
  const float *gamma, *beta, *running_mean, *running_var;
  float eps;
  __device__ void operator()(int c, float& scale, float& shift) const {
    scale = __fdiv_rn(gamma[c], __fsqrt_rn(__fadd_rn(running_var[c], eps)));
    shift = __fsub_rn(beta[c], __fmul_rn(running_mean[c], scale));
  }
};
__device__ float bn_affine(float x, float scale, float shift) { return __fadd_rn(__fmul_rn(x, scale), shift); }

// The ReLU mask of a forward that ended in relu(bn(x)): 0 where bn(x) <= 0, else dy (NaN passes, as relu_backward;
// dy unmasked when off).
struct ReluMask {
  bool on;
  float scale, shift;
  __device__ float operator()(float dy, float x) const {
    return on && bn_affine(x, scale, shift) <= 0.0f ? 0.0f : dy;
  }
};
template <typename Affine>
__device__ ReluMask relu_mask(const Affine& a, bool on, int c) {
  ReluMask m{on, 0.0f, 0.0f};
  if (on) a(c, m.scale, m.shift);
  return m;
}

// y (N,C,HW) = relu?(x * scale + shift + residual?), the epilogue's residual and ReLU as the CPU twin applies them.
template <int V, typename Affine>
__global__ void bn_apply_kernel(float* y, const float* x, const float* residual, bool relu, Affine affine,
                                int64_t planes, int channels, int hw) {
  const int64_t plane = tile_plane(planes);
  if (plane < 0) return;
  float scale, shift;
  affine(int(plane % channels), scale, shift);
  const int64_t base = plane * hw;
  for (int64_t j : plane_vectors<V>(hw)) {
    const int64_t at = base + j * V;
    Vec<V> v = Vec<V>::load(x + at);
    Vec<V> r{};
    if (residual) r = Vec<V>::load(residual + at);
#pragma unroll
    for (int u = 0; u < V; ++u) {
      float o = bn_affine(v.v[u], scale, shift);
      if (residual) o += r.v[u];
      v.v[u] = relu && o < 0.0f ? 0.0f : o;  // the CPU twin's std::max(o, 0): NaN and -0 pass
    }
    v.store(y + at);
  }
}

// Block (c, split) sums, over its share of channel c, g and g * (x - mean) with g = dy under the ReLU mask (the
// forward's affine map `affine` recomputes it when relu is set). partials (C, splits, 2).
template <typename Affine>
__global__ void bn_backward_partial_kernel(double* partials, const float* dy, const float* x, const float* mean,
                                           Affine affine, bool relu, int n_images, int channels, int hw) {
  __shared__ double scratch[32];
  const int c = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const double mu = mean[c];
  const ReluMask mask = relu_mask(affine, relu, c);
  double sum_dy = 0.0, sum_dy_xmu = 0.0;
  ChannelWalk k(int64_t(split) * blockDim.x + threadIdx.x, int64_t(splits) * blockDim.x, hw);
  while (k.n < n_images) {
    const WalkBatch b = next_batch(k, n_images, channels, c, hw);
    float g[kUnroll], v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      g[u] = b.valid[u] ? dy[b.at[u]] : 0.0f;
      v[u] = b.valid[u] ? x[b.at[u]] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) g[u] = mask(g[u], v[u]);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u)
      if (b.valid[u]) {
        sum_dy += double(g[u]);
        sum_dy_xmu += double(g[u]) * (double(v[u]) - mu);
      }
  }
  sum_dy = block_sum(sum_dy, scratch);
  sum_dy_xmu = block_sum(sum_dy_xmu, scratch);
  if (threadIdx.x == 0) {
    partials[(int64_t(c) * splits + split) * 2 + 0] = sum_dy;
    partials[(int64_t(c) * splits + split) * 2 + 1] = sum_dy_xmu;
  }
}

// One thread per channel: dbeta = sum dy, dgamma = sum dy * xhat (C), and the two sums in double for dx:
// totals (C, 2).
__global__ void bn_backward_finish_kernel(float* dgamma, float* dbeta, double* totals, const double* partials,
                                          const float* invstd, int channels, int splits) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  double sum_dy = 0.0, sum_dy_xmu = 0.0;
  for (int s = 0; s < splits; ++s) {
    sum_dy += partials[(int64_t(c) * splits + s) * 2 + 0];
    sum_dy_xmu += partials[(int64_t(c) * splits + s) * 2 + 1];
  }
  const double sum_dy_xhat = sum_dy_xmu * double(invstd[c]);
  dbeta[c] = float(sum_dy);
  dgamma[c] = float(sum_dy_xhat);
  totals[int64_t(c) * 2 + 0] = sum_dy;
  totals[int64_t(c) * 2 + 1] = sum_dy_xhat;
}

// dx (N,C,HW) = gamma*invstd/M * (M*g - sum g - xhat * sum g*xhat), g = dy under the ReLU mask, as the CPU twin
// (and PyTorch) computes it: a*g - b*(x - mean) - e, the per-channel factors formed in double and rounded to float,
// the per-element work in float. Each operation rounded on its own (__fmul_rn, __fsub_rn: no fused multiply-add, as
// the CPU is built with -ffp-contract=off), so the twins agree bit for bit wherever their double sums round to the
// same float factors. That matters where the terms nearly cancel: at M = 2, dx is about eps/var of each term, and two
// formulas each correct to float precision in the terms differ in dx by up to 1e-2 relative.
template <int V>
__global__ void bn_backward_dx_kernel(float* dx, const float* dy, const float* x, const float* gamma,
                                      const float* mean, const float* invstd, TrainAffine affine, bool relu,
                                      const double* totals, int64_t m, int64_t planes, int channels, int hw) {
  const int64_t plane = tile_plane(planes);
  if (plane < 0) return;
  const int c = int(plane % channels);
  const ReluMask mask = relu_mask(affine, relu, c);
  const double is = invstd[c], k = double(gamma[c]) * is;
  const double sum_dy = totals[int64_t(c) * 2 + 0], sum_dy_xhat = totals[int64_t(c) * 2 + 1];
  const float a = float(k), b = float(k / double(m) * sum_dy_xhat * is), e = float(k / double(m) * sum_dy);
  const float mu = mean[c];
  const int64_t base = plane * hw;
  for (int64_t j : plane_vectors<V>(hw)) {
    const int64_t at = base + j * V;
    const Vec<V> g = Vec<V>::load(dy + at), v = Vec<V>::load(x + at);
    Vec<V> out;
#pragma unroll
    for (int u = 0; u < V; ++u)
      out.v[u] = __fsub_rn(__fsub_rn(__fmul_rn(a, mask(g.v[u], v.v[u])), __fmul_rn(b, __fsub_rn(v.v[u], mu))), e);
    out.store(dx + at);
  }
}

// Frozen statistics: invstd (C) = 1/sqrt(running_var + eps), in double then rounded as the CPU twin.
__global__ void bn_frozen_invstd_kernel(float* invstd, const float* running_var, float eps, int channels) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < channels) invstd[c] = float(1.0 / sqrt(double(running_var[c]) + double(eps)));
}

// dx (N,C,HW) = gamma * invstd * g with the statistics held fixed (eval-mode backward), g = dy under the mask.
template <int V>
__global__ void bn_frozen_dx_kernel(float* dx, const float* dy, const float* x, const float* gamma,
                                    const float* invstd, EvalAffine affine, bool relu, int64_t planes, int channels,
                                    int hw) {
  const int64_t plane = tile_plane(planes);
  if (plane < 0) return;
  const int c = int(plane % channels);
  const ReluMask mask = relu_mask(affine, relu, c);
  const float a = float(double(gamma[c]) * double(invstd[c]));  // the CPU twin's factor, then a float product
  const int64_t base = plane * hw;
  for (int64_t j : plane_vectors<V>(hw)) {
    const int64_t at = base + j * V;
    Vec<V> g = Vec<V>::load(dy + at);
    if (relu) {
      const Vec<V> v = Vec<V>::load(x + at);
#pragma unroll
      for (int u = 0; u < V; ++u) g.v[u] = mask(g.v[u], v.v[u]);
    }
#pragma unroll
    for (int u = 0; u < V; ++u) g.v[u] = __fmul_rn(a, g.v[u]);
    g.store(dx + at);
  }
}

// Launch shape of the per-plane kernels: V, and blocks of 256 threads (blockDim.x along a plane's vectors, a
// multiple of 32 and no wider than the plane needs; blockDim.y planes), with blocks along the plane when it is long.
struct PlaneTiles {
  int vector;
  dim3 grid, block;
  int64_t planes;
};
PlaneTiles plane_tiles(const BatchNormShape& s, std::initializer_list<const void*> pointers) {
  const int64_t planes = int64_t(s.n) * s.c;
  bool vectorizable = s.hw % 4 == 0;
  for (const void* p : pointers) vectorizable = vectorizable && aligned16(p);
  const int vector = vectorizable ? 4 : 1;
  const int vectors = s.hw / vector;
  const int tx = int(std::min<int64_t>(kThreadsPerBlock, (int64_t(vectors) + 31) / 32 * 32));
  const int ty = std::max(1, kThreadsPerBlock / tx);
  const int64_t grid_x = (planes + ty - 1) / ty;
  SGML_CHECK(grid_x <= INT_MAX, "batch norm with ", planes, " planes");
  const int64_t chunks = std::min<int64_t>((int64_t(vectors) + tx - 1) / tx, 65535);
  return {vector, dim3(unsigned(grid_x), unsigned(chunks)), dim3(unsigned(tx), unsigned(ty)), planes};
}

// Launches the vector-4 or the scalar instance of a per-plane kernel with the tiles' shape.
template <typename... Params, typename... Args>
void launch_tiles(const PlaneTiles& tiles, cudaStream_t stream, void (*vector4)(Params...), void (*scalar)(Params...),
                  Args... args) {
  (tiles.vector == 4 ? vector4 : scalar)<<<tiles.grid, tiles.block, 0, stream>>>(args...);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace

void batch_norm2d_forward_train(float* y, float* save_mean, float* save_invstd, const float* x, const float* gamma,
                                const float* beta, float* running_mean, float* running_var, float momentum, float eps,
                                const BatchNormShape& s, const BatchNormEpilogue& e) {
  const int64_t m = int64_t(s.n) * s.hw;
  SGML_CHECK(m > 0, "batch norm in training over an empty batch (N ", s.n, ", HW ", s.hw, ")");
  if (s.c == 0) return;
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  const int splits = splits_for(s);
  // partials (C, splits, 2), doubles in a buffer of 8-byte elements.
  Tensor buffer = Tensor::empty({int64_t(s.c) * splits * 2}, Device::cuda(ctx.device()), DType::I64);
  double* p = static_cast<double*>(buffer.raw_data());

  bn_stats_partial_kernel<<<dim3(unsigned(s.c), unsigned(splits)), kReduceThreads, 0, stream>>>(p, x, s.n, s.c, s.hw);
  SGML_CUDA_CHECK_LAUNCH();
  bn_stats_finish_kernel<<<(s.c + kReduceThreads - 1) / kReduceThreads, kReduceThreads, 0, stream>>>(
      save_mean, save_invstd, running_mean, running_var, p, x, s.c, s.hw, splits, m, momentum, eps);
  SGML_CUDA_CHECK_LAUNCH();
  const PlaneTiles t = plane_tiles(s, {y, x, e.residual});
  launch_tiles(t, stream, bn_apply_kernel<4, TrainAffine>, bn_apply_kernel<1, TrainAffine>, y, x, e.residual, e.relu,
               TrainAffine{gamma, beta, save_mean, save_invstd}, t.planes, s.c, s.hw);
}

void batch_norm2d_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                               const float* running_mean, const float* running_var, float eps,
                               const BatchNormShape& s, const BatchNormEpilogue& e) {
  if (int64_t(s.n) * s.c * s.hw == 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  const PlaneTiles t = plane_tiles(s, {y, x, e.residual});
  launch_tiles(t, stream, bn_apply_kernel<4, EvalAffine>, bn_apply_kernel<1, EvalAffine>, y, x, e.residual, e.relu,
               EvalAffine{gamma, beta, running_mean, running_var, eps}, t.planes, s.c, s.hw);
}

namespace {

// The per-channel sums of both backwards: dbeta = sum dy, dgamma = sum dy * xhat (C), with xhat around `mean` and
// scaled by `invstd`, and totals (C, 2) for the dx kernel, in the returned buffer (alive until dx is computed).
struct BackwardSums {
  Tensor buffer;
  const double* totals = nullptr;
};
template <typename Affine>
BackwardSums backward_sums(float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                           const float* invstd, const Affine& affine, bool relu, const BatchNormShape& s,
                           const CudaContext& ctx) {
  cudaStream_t stream = ctx.stream();
  const int splits = splits_for(s);
  // partials (C, splits, 2) then totals (C, 2), doubles in a buffer of 8-byte elements.
  BackwardSums r;
  r.buffer = Tensor::empty({int64_t(s.c) * (splits + 1) * 2}, Device::cuda(ctx.device()), DType::I64);
  double* p = static_cast<double*>(r.buffer.raw_data());
  double* totals = p + int64_t(s.c) * splits * 2;
  bn_backward_partial_kernel<<<dim3(unsigned(s.c), unsigned(splits)), kReduceThreads, 0, stream>>>(
      p, dy, x, mean, affine, relu, s.n, s.c, s.hw);
  SGML_CUDA_CHECK_LAUNCH();
  bn_backward_finish_kernel<<<(s.c + kReduceThreads - 1) / kReduceThreads, kReduceThreads, 0, stream>>>(
      dgamma, dbeta, totals, p, invstd, s.c, splits);
  SGML_CUDA_CHECK_LAUNCH();
  r.totals = totals;
  return r;
}

// A batch of no values (M = 0): the sums are zero and dx is empty. True when there is nothing more to do.
bool backward_of_nothing(float* dgamma, float* dbeta, const BatchNormShape& s, cudaStream_t stream) {
  if (int64_t(s.n) * s.hw != 0) return false;
  SGML_CUDA_CHECK(cudaMemsetAsync(dgamma, 0, sizeof(float) * s.c, stream));
  SGML_CUDA_CHECK(cudaMemsetAsync(dbeta, 0, sizeof(float) * s.c, stream));
  return true;
}

}  // namespace

void batch_norm2d_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                           const float* gamma, const float* save_mean, const float* save_invstd,
                           const float* relu_beta, const BatchNormShape& s) {
  if (s.c == 0) return;
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  if (backward_of_nothing(dgamma, dbeta, s, stream)) return;
  const TrainAffine affine{gamma, relu_beta, save_mean, save_invstd};
  const bool relu = relu_beta != nullptr;
  const BackwardSums sums = backward_sums(dgamma, dbeta, dy, x, save_mean, save_invstd, affine, relu, s, ctx);
  const PlaneTiles t = plane_tiles(s, {dx, dy, x});
  launch_tiles(t, stream, bn_backward_dx_kernel<4>, bn_backward_dx_kernel<1>, dx, dy, x, gamma, save_mean, save_invstd,
               affine, relu, sums.totals, int64_t(s.n) * s.hw, t.planes, s.c, s.hw);
}

void batch_norm2d_backward_frozen(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* gamma, const float* running_mean, const float* running_var, float eps,
                                  const float* relu_beta, const BatchNormShape& s) {
  if (s.c == 0) return;
  const CudaContext& ctx = CudaContext::current();
  cudaStream_t stream = ctx.stream();
  if (backward_of_nothing(dgamma, dbeta, s, stream)) return;
  Tensor invstd = Tensor::empty({int64_t(s.c)}, Device::cuda(ctx.device()));  // (C) floats, as the CPU twin rounds it
  bn_frozen_invstd_kernel<<<(s.c + kReduceThreads - 1) / kReduceThreads, kReduceThreads, 0, stream>>>(
      invstd.data(), running_var, eps, s.c);
  SGML_CUDA_CHECK_LAUNCH();
  // dgamma and dbeta: the training backward's sums, around the running mean and with the running invstd.
  const EvalAffine affine{gamma, relu_beta, running_mean, running_var, eps};
  const bool relu = relu_beta != nullptr;
  const BackwardSums sums = backward_sums(dgamma, dbeta, dy, x, running_mean, invstd.data(), affine, relu, s, ctx);
  const PlaneTiles t = plane_tiles(s, {dx, dy, x});
  launch_tiles(t, stream, bn_frozen_dx_kernel<4>, bn_frozen_dx_kernel<1>, dx, dy, x, gamma,
               static_cast<const float*>(invstd.data()), affine, relu, t.planes, s.c, s.hw);
}

}  // namespace sgml::cuda
