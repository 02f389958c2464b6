// Deterministic block-wide sums for the loss kernels: warp shuffles in a fixed tree, then the warp partials in a
// fixed tree, so the same inputs and launch shape always give the same bits (no float atomics).
#pragma once
#include <cuda_runtime.h>

namespace sgml {

// Sum of v over the block; valid in thread 0. Every thread of the block must call it. blockDim.x is a multiple of
// 32 and at most 1024. `scratch` is 32 floats of shared memory, free for reuse once this returns.
__device__ inline float block_sum(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = threadIdx.x < warps ? scratch[threadIdx.x] : 0.0f;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  __syncthreads();
  return v;
}

// Blocks of the first stage of a two-stage reduction over n items: enough to fill the GPU, few enough that one
// block sums the partials. Depends only on n, so a given n always reduces in the same order.
inline int reduce_blocks_for(long long n, int threads) {
  long long blocks = (n + threads - 1) / threads;
  return static_cast<int>(blocks < 1 ? 1 : (blocks > 256 ? 256 : blocks));
}

}  // namespace sgml
