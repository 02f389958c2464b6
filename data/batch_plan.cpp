#include "data/batch_plan.h"

#include "data/text_lines.h"
#include "engine/check.h"

namespace sgml {

BatchPlan read_batch_plan(const std::string& path, int num_train_images, int group) {
  SGML_CHECK(group >= 1, "batch plan group ", group);
  const TextFile file(path);
  BatchPlan plan;
  for (int n = 1; n <= file.num_lines(); ++n) {
    const std::vector<std::string_view> tokens = split_tokens(file.line(n));
    if (tokens.empty() || tokens[0][0] == '#') continue;
    std::vector<int> step;
    for (std::string_view t : tokens) {
      const long long v = parse_integer(t, path, n, "image index");
      if (v < 0 || v >= num_train_images)
        SGML_FAIL("'", path, "' line ", n, ": image index ", v, " is outside the ", num_train_images,
                  " training images");
      step.push_back(int(v));
    }
    if (step.size() < 2) SGML_FAIL("'", path, "' line ", n, ": a batch needs at least 2 images");
    if (step.size() % size_t(group) != 0)
      SGML_FAIL("'", path, "' line ", n, ": ", step.size(), " indices; image-wise sampling needs a, p, n triplets");
    plan.push_back(std::move(step));
  }
  if (plan.empty()) SGML_FAIL("'", path, "': the batch plan has no steps");
  return plan;
}

}  // namespace sgml
