// Normalised mutual information between two labellings of the same items, with the arithmetic normalisation of
// scikit-learn's normalized_mutual_info_score (its default): NMI = MI / ((H(true) + H(pred)) / 2), natural logs.
#pragma once
#include <cstdint>
#include <vector>

namespace sgml {

// Special cases as scikit-learn: 1 when both labellings put every item in one group (or there are no items);
// 0 when the mutual information is 0 otherwise. Labels are arbitrary integers.
double normalized_mutual_info(const std::vector<int64_t>& labels_true, const std::vector<int64_t>& labels_pred);

}  // namespace sgml
