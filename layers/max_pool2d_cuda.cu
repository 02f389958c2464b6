// CUDA max pooling. Forward: one thread per output value, the CPU twin's scan order and tie rule. Backward: one
// thread per input value gathers from the outputs whose window holds it, in the order the CPU twin scatters them,
// so the result is the CPU's bit for bit and no atomics are needed.
#include <cmath>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "layers/max_pool2d.h"

namespace sgml::cuda {

namespace {

// y, argmax (planes, P, Q) from x (planes, H, W); argmax is the flat index h*W + w within the plane.
__global__ void max_pool2d_forward_kernel(float* y, int32_t* argmax, const float* x, int64_t total, Pool2dGeometry g,
                                          int P, int Q) {
  for (int64_t k : grid_stride(total)) {
    const int q = int(k % Q), p = int((k / Q) % P);
    const int64_t plane = k / (int64_t(P) * Q);
    const float* in = x + plane * g.h * g.w;
    float best = -INFINITY;
    int best_index = -1;
    for (int i = 0; i < g.kernel; ++i) {
      const int h = p * g.stride - g.pad + i;
      if (h < 0 || h >= g.h) continue;  // padding never wins
      for (int j = 0; j < g.kernel; ++j) {
        const int w = q * g.stride - g.pad + j;
        if (w < 0 || w >= g.w) continue;
        const float v = in[h * g.w + w];
        // First maximum wins (strict >); a NaN always wins, as in PyTorch (`val > maxval || isnan(val)`), so it
        // propagates and a window's last NaN takes the gradient.
        if (best_index < 0 || v > best || v != v) {
          best = v;
          best_index = h * g.w + w;
        }
      }
    }
    y[k] = best;
    argmax[k] = best_index;
  }
}

// dx (planes, H, W): for each input value, the sum of dy over the outputs whose argmax is that value, taken in
// increasing output order as the CPU twin adds them.
__global__ void max_pool2d_backward_kernel(float* dx, const float* dy, const int32_t* argmax, int64_t total,
                                           Pool2dGeometry g, int P, int Q) {
  for (int64_t k : grid_stride(total)) {
    const int w = int(k % g.w), h = int((k / g.w) % g.h);
    const int64_t plane = k / (int64_t(g.h) * g.w);
    // Output rows whose window [p*stride - pad, p*stride - pad + kernel) holds h: the first p with
    // p*stride >= h + pad - kernel + 1 up to the last with p*stride <= h + pad; likewise for columns.
    const int p0 = h + g.pad >= g.kernel ? (h + g.pad - g.kernel) / g.stride + 1 : 0;
    const int p1 = min((h + g.pad) / g.stride, P - 1);
    const int q0 = w + g.pad >= g.kernel ? (w + g.pad - g.kernel) / g.stride + 1 : 0;
    const int q1 = min((w + g.pad) / g.stride, Q - 1);
    const int target = h * g.w + w;
    const int64_t out_plane = plane * P * Q;
    float sum = 0.0f;
    for (int p = p0; p <= p1; ++p)
      for (int q = q0; q <= q1; ++q)
        if (argmax[out_plane + p * Q + q] == target) sum += dy[out_plane + p * Q + q];
    dx[k] = sum;
  }
}

}  // namespace

void max_pool2d_forward(float* y, int32_t* argmax, const float* x, const Pool2dGeometry& g) {
  const int P = g.p(), Q = g.q();
  const int64_t total = int64_t(g.n) * g.c * P * Q;
  if (total <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  max_pool2d_forward_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(y, argmax, x, total, g, P, Q);
  SGML_CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(float* dx, const float* dy, const int32_t* argmax, const Pool2dGeometry& g) {
  const int64_t total = int64_t(g.n) * g.c * g.h * g.w;
  if (total <= 0) return;
  cudaStream_t stream = CudaContext::current().stream();
  max_pool2d_backward_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(dx, dy, argmax, total, g, g.p(),
                                                                                g.q());
  SGML_CUDA_CHECK_LAUNCH();
}

}  // namespace sgml::cuda
