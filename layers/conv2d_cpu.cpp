// CPU convolution: im2col over a chunk of images into columns (C*R*S, nb*P*Q), then one SGEMM per chunk.
// Chunks bound the column buffer; one large GEMM keeps OpenBLAS's threads busy even at small spatial sizes.
#include <algorithm>
#include <cstring>
#include <vector>

#include "layers/conv2d.h"
#include "layers/gemm.h"

namespace sgml::cpu {

namespace {

constexpr int64_t kMaxColumnFloats = int64_t(64) << 20;  // 256 MiB of columns at most

int images_per_chunk(const Conv2dGeometry& g) {
  const int64_t per_image = int64_t(g.c) * g.r * g.s * g.p() * g.q();
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(g.n, kMaxColumnFloats / std::max<int64_t>(per_image, 1))));
}

// col (C*R*S, nb*P*Q) from images [n0, n0+nb) of x (N,C,H,W).
void im2col(float* col, const float* x, const Conv2dGeometry& g, int n0, int nb) {
  const int P = g.p(), Q = g.q(), PQ = P * Q;
  const int64_t cols = int64_t(nb) * PQ;
#pragma omp parallel for collapse(2)
  for (int c = 0; c < g.c; ++c)
    for (int rs = 0; rs < g.r * g.s; ++rs) {
      const int r = rs / g.s, s = rs % g.s;
      float* row = col + (int64_t(c) * g.r * g.s + rs) * cols;
      for (int b = 0; b < nb; ++b) {
        const float* plane = x + (int64_t(n0 + b) * g.c + c) * g.h * g.w;
        float* out = row + int64_t(b) * PQ;
        for (int p = 0; p < P; ++p) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.h) {
            std::memset(out + p * Q, 0, sizeof(float) * Q);
            continue;
          }
          for (int q = 0; q < Q; ++q) {
            const int w = q * g.stride - g.pad + s;
            out[p * Q + q] = (w >= 0 && w < g.w) ? plane[h * g.w + w] : 0.0f;
          }
        }
      }
    }
}

// dx images [n0, n0+nb) = the sum of the columns back onto the image (the adjoint of im2col).
void col2im(float* dx, const float* col, const Conv2dGeometry& g, int n0, int nb) {
  const int P = g.p(), Q = g.q(), PQ = P * Q;
  const int64_t cols = int64_t(nb) * PQ;
  // Parallel over (image, channel) planes: each plane is written by one thread, so no races.
#pragma omp parallel for collapse(2)
  for (int b = 0; b < nb; ++b)
    for (int c = 0; c < g.c; ++c) {
      float* plane = dx + (int64_t(n0 + b) * g.c + c) * g.h * g.w;
      std::memset(plane, 0, sizeof(float) * g.h * g.w);
      for (int rs = 0; rs < g.r * g.s; ++rs) {
        const int r = rs / g.s, s = rs % g.s;
        const float* in = col + (int64_t(c) * g.r * g.s + rs) * cols + int64_t(b) * PQ;
        for (int p = 0; p < P; ++p) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.h) continue;
          for (int q = 0; q < Q; ++q) {
            const int w = q * g.stride - g.pad + s;
            if (w >= 0 && w < g.w) plane[h * g.w + w] += in[p * Q + q];
          }
        }
      }
    }
}

// (nb, K, PQ) <-> (K, nb*PQ): the layout the GEMM produces or consumes versus NCHW.
void batch_to_channel_major(float* out, const float* in, int nb, int k, int pq) {
#pragma omp parallel for collapse(2)
  for (int b = 0; b < nb; ++b)
    for (int kk = 0; kk < k; ++kk)
      std::memcpy(out + (int64_t(kk) * nb + b) * pq, in + (int64_t(b) * k + kk) * pq, sizeof(float) * pq);
}
void channel_major_to_batch(float* out, const float* in, int nb, int k, int pq) {
#pragma omp parallel for collapse(2)
  for (int b = 0; b < nb; ++b)
    for (int kk = 0; kk < k; ++kk)
      std::memcpy(out + (int64_t(b) * k + kk) * pq, in + (int64_t(kk) * nb + b) * pq, sizeof(float) * pq);
}

}  // namespace

void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& g) {
  const int PQ = g.p() * g.q(), CRS = g.c * g.r * g.s, chunk = images_per_chunk(g);
  std::vector<float> col(size_t(CRS) * chunk * PQ), out(size_t(g.k) * chunk * PQ);
  for (int n0 = 0; n0 < g.n; n0 += chunk) {
    const int nb = std::min(chunk, g.n - n0);
    im2col(col.data(), x, g, n0, nb);
    gemm(out.data(), w, false, col.data(), false, g.k, nb * PQ, CRS, 1.0f, 0.0f);  // (K, nb*PQ)
    channel_major_to_batch(y + int64_t(n0) * g.k * PQ, out.data(), nb, g.k, PQ);
  }
}

void conv2d_backward_data(float* dx, const float* dy, const float* w, const Conv2dGeometry& g) {
  const int PQ = g.p() * g.q(), CRS = g.c * g.r * g.s, chunk = images_per_chunk(g);
  std::vector<float> col(size_t(CRS) * chunk * PQ), dyt(size_t(g.k) * chunk * PQ);
  for (int n0 = 0; n0 < g.n; n0 += chunk) {
    const int nb = std::min(chunk, g.n - n0);
    batch_to_channel_major(dyt.data(), dy + int64_t(n0) * g.k * PQ, nb, g.k, PQ);
    gemm(col.data(), w, true, dyt.data(), false, CRS, nb * PQ, g.k, 1.0f, 0.0f);  // Wᵀ (CRS,K) · dy (K, nb*PQ)
    col2im(dx, col.data(), g, n0, nb);
  }
}

void conv2d_backward_filter(float* dw, const float* dy, const float* x, const Conv2dGeometry& g) {
  const int PQ = g.p() * g.q(), CRS = g.c * g.r * g.s, chunk = images_per_chunk(g);
  std::vector<float> col(size_t(CRS) * chunk * PQ), dyt(size_t(g.k) * chunk * PQ);
  for (int n0 = 0; n0 < g.n; n0 += chunk) {
    const int nb = std::min(chunk, g.n - n0);
    im2col(col.data(), x, g, n0, nb);
    batch_to_channel_major(dyt.data(), dy + int64_t(n0) * g.k * PQ, nb, g.k, PQ);
    // dW (K,CRS) (+)= dy (K, nb*PQ) · colᵀ (nb*PQ, CRS); the first chunk overwrites.
    gemm(dw, dyt.data(), false, col.data(), true, g.k, CRS, nb * PQ, 1.0f, n0 == 0 ? 0.0f : 1.0f);
  }
}

}  // namespace sgml::cpu
