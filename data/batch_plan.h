// A batch plan: the training batches written out, one line per step, whitespace-separated indices into the
// training image list in the dataset's own file order (e.g. from tests/reference/sgml_reference.py, so that our
// run and the PyTorch reference see the same images). Blank lines and lines starting with '#' are skipped.
// Errors name the file and line: a token that is not an integer, an index outside [0, num_train_images), an
// image-wise line whose length is not a multiple of 3 (a, p, n triplets), a line of fewer than 2 indices, no steps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sgml {

using BatchPlan = std::vector<std::vector<int>>;

// `group`: each line's length must be a multiple of it (3 for image-wise triplets, 1 otherwise).
BatchPlan read_batch_plan(const std::string& path, int num_train_images, int group = 1);

// The plan's step `step`, cycling when the run is longer than the plan.
inline const std::vector<int>& plan_batch(const BatchPlan& plan, int64_t step) {
  return plan[size_t(step % int64_t(plan.size()))];
}

}  // namespace sgml
