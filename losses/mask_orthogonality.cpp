#include "losses/mask_orthogonality.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/check.h"
#include "engine/tensor_math.h"

namespace sgml {

MaskOrthogonality mask_orthogonality(const Variable& masks, double lambda, int rows) {
  const Tensor& m = masks.value();
  SGML_CHECK(m.ndim() == 2 && m.dim(0) >= 1 && m.dim(1) >= 1, "learner masks must be (K, d), got ",
             shape_str(m.shape()));
  SGML_CHECK(rows == -1 || (rows >= 1 && rows <= m.dim(0)), "orthogonality of ", rows, " of ", m.dim(0), " masks");
  const int64_t k = rows == -1 ? m.dim(0) : rows, d = m.dim(1);
  const std::vector<float> host = m.to_vector();
  constexpr double kEps = 1e-8;
  // u_i = relu(m_i) / max(|relu(m_i)|, eps)
  std::vector<double> u(static_cast<size_t>(k * d)), norm(static_cast<size_t>(k));
  for (int64_t i = 0; i < k; ++i) {
    double sq = 0;
    for (int64_t c = 0; c < d; ++c) sq += std::pow(std::max(0.0, double(host[i * d + c])), 2);
    norm[i] = std::max(std::sqrt(sq), kEps);
    for (int64_t c = 0; c < d; ++c) u[i * d + c] = std::max(0.0, double(host[i * d + c])) / norm[i];
  }
  const double weight = k > 1 ? lambda / double(k * (k - 1)) : 0.0;
  // sum over u_j of the other learners: the sum of cosines is sum_i u_i . (total - u_i)
  std::vector<double> total(size_t(d), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t c = 0; c < d; ++c) total[c] += u[i * d + c];
  MaskOrthogonality out;
  std::vector<float> grad(static_cast<size_t>(m.numel()), 0.0f);  // the rows from k on: 0
  double sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    // dL/du_i = 2 weight (total - u_i): each pair appears as (i, j) and (j, i).
    std::vector<double> g(static_cast<size_t>(d));
    double ug = 0;
    for (int64_t c = 0; c < d; ++c) {
      const double others = total[c] - u[i * d + c];
      sum += u[i * d + c] * others;
      g[c] = 2 * weight * others;
      ug += u[i * d + c] * g[c];
    }
    // Through the normalisation (the clamped norm is a constant), then through the ReLU.
    const bool clamped = norm[i] <= kEps;
    for (int64_t c = 0; c < d; ++c) {
      if (host[i * d + c] <= 0.0f) continue;
      grad[i * d + c] = float((g[c] - (clamped ? 0.0 : u[i * d + c] * ug)) / norm[i]);
    }
  }
  out.value = weight * sum;
  Tensor dmasks = Tensor::from_vector(grad, m.shape(), m.device());
  out.loss = Variable(Tensor::from_vector({float(out.value)}, {1}, m.device()), {masks},
                      [dmasks](std::vector<Variable>& in, const Tensor& dy) {
                        const float scale = dy.item();
                        Tensor g = dmasks;
                        if (scale != 1.0f) {
                          g = dmasks.clone();
                          scale_inplace(g, scale);
                        }
                        in[0].add_grad(g);
                      });
  return out;
}

}  // namespace sgml
