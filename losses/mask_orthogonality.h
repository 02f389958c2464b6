// The regulariser of Divide & Conquer's learned masks (Sanakoyeu, Ma, Tschernezki, Ommer, TPAMI 2021; their public
// code): lambda times the mean cosine similarity of the ReLU'd masks over the ordered pairs of different learners,
//   L = lambda / (K (K - 1)) * sum_{i != j} cos(relu(m_i), relu(m_j)),
// which pushes the learners towards different dimensions. Signed, as theirs: the masks are non-negative after the
// ReLU, so every cosine lies in [0, 1]. A norm below 1e-8 is clamped to it (torch.nn.CosineSimilarity's eps); a
// mask that is wholly non-positive has cosine 0 with every other and no gradient. K = 1: L = 0.
// The masks are small (K x d, e.g. 8 x 128): value and gradient are computed together on the host in double, and
// the gradient is handed back on backward, as the loss kernels do.
#pragma once
#include "engine/variable.h"

namespace sgml {

struct MaskOrthogonality {
  Variable loss;     // (1) on the masks' device; its backward gives the masks their gradient
  double value = 0;  // the loss, for the log
};
// Over the first `rows` masks only (the learners in use in a hierarchical division; -1: all K); the others get
// gradient 0.
MaskOrthogonality mask_orthogonality(const Variable& masks /*(K,d)*/, double lambda, int rows = -1);

}  // namespace sgml
