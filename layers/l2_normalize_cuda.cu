// CUDA row L2 normalisation: one warp per row, the row's sums in double as the CPU twin. The sums are butterfly
// (xor) shuffles, so every lane holds the same total: float and double addition are commutative, and each lane
// adds the same pairs.
#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/l2_normalize.h"

namespace sgml::cuda {

namespace {

__device__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// y (rows, cols) = x / max(||x_row||, eps); norms (rows) = the clamped norm. The row loop is the same for all
// lanes of a warp, so the whole warp takes part in every shuffle.
__global__ void l2_normalize_forward_kernel(float* y, float* norms, const float* x, int rows, int cols, float eps) {
  const int lane = threadIdx.x & 31;
  for (int64_t r : warp_stride(rows)) {
    const float* in = x + r * cols;
    double sq = 0.0;
    for (int c = lane; c < cols; c += 32) sq += double(in[c]) * in[c];
    sq = warp_sum(sq);
    const float unclamped = float(sqrt(sq));
    const float norm = unclamped < eps ? eps : unclamped;  // std::max's rule: a NaN norm stays NaN
    if (lane == 0) norms[r] = norm;
    for (int c = lane; c < cols; c += 32) y[r * cols + c] = in[c] / norm;
  }
}

// dx = (dy - y * <y, dy>) / norm where the norm exceeds eps; dy / eps where it was clamped (a constant).
__global__ void l2_normalize_backward_kernel(float* dx, const float* dy, const float* y, const float* norms, int rows,
                                             int cols, float eps) {
  const int lane = threadIdx.x & 31;
  for (int64_t r : warp_stride(rows)) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    const float norm = norms[r];
    if (norm > eps) {  // the same for the whole warp
      double dot = 0.0;
      for (int c = lane; c < cols; c += 32) dot += double(yr[c]) * dyr[c];
      dot = warp_sum(dot);
      for (int c = lane; c < cols; c += 32) dxr[c] = float((double(dyr[c]) - double(yr[c]) * dot) / double(norm));
    } else {
      for (int c = lane; c < cols; c += 32) dxr[c] = dyr[c] / eps;
    }
  }
}

}  // namespace

void l2_normalize_forward(float* y, float* norms, const float* x, int rows, int cols) {
  if (rows <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  l2_normalize_forward_kernel<<<blocks_for(int64_t(rows) * 32), kThreadsPerBlock, 0, stream>>>(y, norms, x, rows,
                                                                                               cols, kL2NormalizeEps);
  SGML_CUDA_CHECK_LAUNCH();
}

void l2_normalize_backward(float* dx, const float* dy, const float* y, const float* norms, int rows, int cols) {
  if (rows <= 0 || cols <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  l2_normalize_backward_kernel<<<blocks_for(int64_t(rows) * 32), kThreadsPerBlock, 0, stream>>>(
      dx, dy, y, norms, rows, cols, kL2NormalizeEps);
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
