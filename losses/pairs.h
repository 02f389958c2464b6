// Pairs of a batch for the (soft-)binomial deviance loss (paper Sec. III-C, IV): which (i, j) entries of the
// similarity matrix S take part, and whether each is a positive (same class) or a negative pair.
// Built on the host from the batch's labels; the loss uploads it to the device with one explicit copy.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

struct PairList {
  std::vector<int32_t> i;         // (P) row of S, an index into the batch
  std::vector<int32_t> j;         // (P) column of S, i != j
  std::vector<uint8_t> positive;  // (P) 1: same class (y = 1), 0: different classes (y = 0)

  int64_t size() const { return static_cast<int64_t>(i.size()); }
  int64_t num_positive() const;
  int64_t num_negative() const { return size() - num_positive(); }
  void add(int32_t row, int32_t col, bool is_positive);

  // (3, P) I32 on `device`: row 0 = i, row 1 = j, row 2 = positive (0/1); the layout the loss kernels read.
  Tensor packed(Device device) const;
  // Throws unless every index is in [0, n), i != j, and no (i, j) appears twice (each pair owns its gradient
  // element, so the kernels write it without atomics).
  void validate(int64_t n) const;
};

// Batch-wise sampling: every unordered pair i < j of the batch, positive when labels[i] == labels[j].
PairList batch_pairs(const std::vector<int64_t>& labels);
// Image-wise sampling: the batch is triplets (anchor, positive, negative) at 3t, 3t+1, 3t+2; pairs (3t, 3t+1) are
// positive and (3t, 3t+2) negative. All positives come first, then all negatives (as the PyTorch reference).
PairList triplet_pairs(int64_t batch_size);

}  // namespace sgml
