#include "losses/metric_loss.h"

#include "engine/dispatch.h"

namespace sgml {

MetricLossResult binomial_deviance_loss(const Tensor& S, const Tensor& G, const PairList& pairs, float alpha,
                                        float beta, bool grad_g, float grad_scale) {
  OpScope op("binomial_deviance_loss");
  check_defined(S, "binomial_deviance_loss S");
  SGML_CHECK(S.ndim() == 2 && S.dim(0) == S.dim(1), "binomial_deviance_loss needs S (N, N), got ",
             shape_str(S.shape()));
  const int64_t n = S.dim(0);
  const bool soft = G.defined();
  if (soft) {
    check_shape(G, S.shape(), "binomial_deviance_loss G");
    check_same_device(S, G, "binomial_deviance_loss");
  }
  pairs.validate(n);

  MetricLossResult r;
  r.terms = Tensor::empty({3}, S.device());
  r.dS = Tensor::empty(S.shape(), S.device());
  if (soft && grad_g) r.dG = Tensor::empty(S.shape(), S.device());
  const Tensor packed = pairs.packed(S.device());  // explicit host-to-device copy of the pair list
  const int32_t* p = static_cast<const int32_t*>(packed.raw_data());
  const float* g = soft ? G.data() : nullptr;
  float* dg = r.dG.defined() ? r.dG.data() : nullptr;
  const int64_t num_pos = pairs.num_positive(), num_neg = pairs.num_negative();
  SGML_DISPATCH(S, binomial_deviance_loss, r.terms.data(), r.dS.data(), dg, S.data(), g, p, pairs.size(), num_pos,
                num_neg, static_cast<int>(n), alpha, beta, grad_scale);
  return r;
}

}  // namespace sgml
