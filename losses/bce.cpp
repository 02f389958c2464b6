#include "losses/bce.h"

#include "engine/dispatch.h"

namespace sgml {

BceResult bce_with_logits(const Tensor& logits, const Tensor& targets, float grad_scale) {
  OpScope op("bce_with_logits");
  check_defined(logits, "bce_with_logits logits");
  SGML_CHECK(logits.ndim() == 2 && logits.numel() > 0, "bce_with_logits needs non-empty logits (N, K), got ",
             shape_str(logits.shape()));
  check_shape(targets, logits.shape(), "bce_with_logits targets");
  check_same_device(logits, targets, "bce_with_logits");
  BceResult r;
  r.value = Tensor::empty({1}, logits.device());
  r.dlogits = Tensor::empty(logits.shape(), logits.device());
  SGML_DISPATCH(logits, bce_with_logits, r.value.data(), r.dlogits.data(), logits.data(), targets.data(),
                logits.numel(), grad_scale);
  return r;
}

}  // namespace sgml
