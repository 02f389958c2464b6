#include "losses/rank_loss.h"

#include <map>

#include "engine/dispatch.h"

namespace sgml {

RankLossResult rank_approximation_loss(const Tensor& S, const std::vector<int64_t>& labels, float tau, float rho,
                                       float grad_scale) {
  OpScope op("rank_approximation_loss");
  check_defined(S, "rank_approximation_loss S");
  SGML_CHECK(S.ndim() == 2 && S.dim(0) == S.dim(1), "rank_approximation_loss needs S (B, B), got ",
             shape_str(S.shape()));
  const int64_t n = S.dim(0);
  SGML_CHECK(static_cast<int64_t>(labels.size()) == n, "rank_approximation_loss: ", labels.size(),
             " labels for a batch of ", n);
  // The CUDA twin keeps two rows of B floats in shared memory (32 KiB at 4096, the largest training batch).
  SGML_CHECK(n <= 4096, "rank_approximation_loss: a batch of at most 4096 images, got ", n);
  SGML_CHECK(tau >= 1e-3f && tau <= 1.0f, "rank_approximation_loss: tau must be between 0.001 and 1, got ", tau);
  SGML_CHECK(rho >= 1e-2f && rho <= 10.0f, "rank_approximation_loss: rho must be between 0.01 and 10, got ", rho);

  // Dense int32 class ids (any int64 label, no truncation), and the ordered pair counts.
  Tensor ids = Tensor::empty({n}, Device::cpu(), DType::I32);
  int32_t* id = static_cast<int32_t*>(ids.raw_data());
  std::map<int64_t, int32_t> dense;
  std::map<int32_t, int64_t> members;
  for (int64_t r = 0; r < n; ++r) {
    id[r] = dense.emplace(labels[r], static_cast<int32_t>(dense.size())).first->second;
    ++members[id[r]];
  }
  RankLossResult result;
  for (const auto& [cls, count] : members) result.positive_pairs += count * (count - 1);
  result.negative_pairs = n * (n - 1) - result.positive_pairs;

  result.terms = Tensor::empty({3}, S.device());
  result.dS = Tensor::empty(S.shape(), S.device());
  const Tensor device_ids = S.is_cuda() ? ids.to(S.device()) : ids;  // explicit host-to-device copy
  SGML_DISPATCH(S, rank_approximation_loss, result.terms.data(), result.dS.data(), S.data(),
                static_cast<const int32_t*>(device_ids.raw_data()), static_cast<int>(n), result.positive_pairs,
                result.negative_pairs, tau, rho, grad_scale);
  return result;
}

}  // namespace sgml
