#include "data/dataset.h"

#include <set>

namespace sgml {

int Dataset::num_train_classes() const {
  std::set<int> labels;
  for (const auto& r : train) labels.insert(r.label);
  return int(labels.size());
}

}  // namespace sgml
