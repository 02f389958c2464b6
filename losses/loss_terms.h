// The terms every pair loss reports, (3) = L, L_pos, L_neg with L = L_pos + L_neg, each part the mean of its pairs'
// losses (0 when there are none); and the inverse counts the gradients are scaled by. Shared by the pair losses
// (metric_loss, rank_loss) on both devices.
#pragma once
#include <cstdint>

namespace sgml {

// 1 / count, or 0 for no pairs (a missing part contributes nothing, to the loss or the gradient).
inline float inverse_count(int64_t count) { return count > 0 ? 1.0f / static_cast<float>(count) : 0.0f; }

namespace cpu {
// terms from the parts' sums, accumulated in double.
inline void write_mean_terms(float* terms, double sum_pos, double sum_neg, int64_t num_positive,
                             int64_t num_negative) {
  const float l_pos = num_positive > 0 ? static_cast<float>(sum_pos / num_positive) : 0.0f;
  const float l_neg = num_negative > 0 ? static_cast<float>(sum_neg / num_negative) : 0.0f;
  terms[0] = l_pos + l_neg;
  terms[1] = l_pos;
  terms[2] = l_neg;
}
}  // namespace cpu

namespace cuda {
// terms from partials (count, 2) of (positive, negative) sums, on the current device's stream: one block adds them
// in a fixed order (reproducible bit for bit) and scales them by inv_pos and inv_neg.
void write_mean_terms(float* terms, const float* partials, int count, float inv_pos, float inv_neg);
}  // namespace cuda

}  // namespace sgml
