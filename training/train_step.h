// One SGML training step, the same for the trainer and `sgml bench train`: forward through backbone and head in
// training mode, the objective, backward, one fused Adam step over the flat parameter buffer.
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/adam.h"
#include "losses/sgml_objective.h"
#include "models/sgml_model.h"

namespace sgml {

// One training batch, on the host or already on the model's device.
struct TrainBatch {
  Tensor images;                // (B, 3, S, S) normalised
  std::vector<int64_t> labels;  // (B) class indices
  Tensor attributes;            // (B, K) 0/1 targets
};

struct StepMetrics {
  int64_t step;  // 1-based
  int epoch;     // 1-based epoch the step belongs to (set by the trainer)
  double loss, metric_loss, lr;
  double bce_loss = -1;   // the attribute head's BCE; -1 (not logged) for a model without that head (--head linear)
  double mask_loss = -1;  // D&C's learned masks' term (lambda included); -1 (not logged) without learned masks
  int64_t positive_pairs, negative_pairs;
  nlohmann::json to_json() const;
};

// Trains `model` (its parameters flattened, see ParameterStore::flatten) on `batch` with learning rate `lr`.
// When the objective is NaN or infinite it throws before any gradient reaches the parameters, naming `step`
// (1-based) and each term's value. Returns the step's metrics (epoch 0).
StepMetrics train_step(SgmlModel& model, AdamOptimizer& optimizer, const ObjectiveConfig& objective,
                       const TrainBatch& batch, double lr, int64_t step);

}  // namespace sgml
