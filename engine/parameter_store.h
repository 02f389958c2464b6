// Named parameters and buffers of a model, in PyTorch state_dict order and naming.
// Parameters are Variables (they get gradients); buffers are tensors (BN running statistics) that never do.
// flatten() lays every parameter and its gradient out as views into one flat buffer each, so that the optimiser
// is one kernel and zeroing the gradients is one memset.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors.h"
#include "engine/variable.h"

namespace sgml {

class ParameterStore {
 public:
  // Registers a parameter (requires_grad) and returns it; the store and the caller share the same node. A name
  // already taken by a parameter or buffer is an error (state_dict would keep only one of them).
  Variable add_parameter(const std::string& name, Tensor value);
  // Registers a buffer; `buffer` must outlive the store (modules are heap-allocated and never move).
  void add_buffer(const std::string& name, Tensor* buffer);

  const std::vector<std::pair<std::string, Variable>>& parameters() const { return parameters_; }
  const std::vector<std::pair<std::string, Tensor*>>& buffers() const { return buffers_; }
  int64_t parameter_count() const;  // number of scalar parameters
  Device device() const { return device_; }

  // Every parameter and buffer by name (CPU copies when on a GPU are made by save_safetensors).
  TensorMap state_dict() const;

  // Copies values in by name. Every key of `tensors` must be known, except those for which `ignore(key)` is true;
  // every parameter and buffer must be present except those for which `optional(key)` is true. Errors name the
  // keys and, for shape mismatches, both shapes; on an error nothing is copied. Returns the names that were absent
  // (and kept their values).
  template <class Ignore, class Optional>
  std::vector<std::string> load(const TensorMap& tensors, const std::string& source, Ignore ignore, Optional optional);

  // Moves all parameters and buffers to `device` (I64 counters stay on the CPU).
  void to(Device device);
  // One flat parameter buffer and one flat gradient buffer (zeroed); parameters become views into them.
  void flatten();
  bool flattened() const { return flat_params_.defined(); }
  // Where parameter `name` starts in the flat buffers (registration order); throws for an unknown name.
  int64_t flat_offset_of(const std::string& name) const;
  Tensor& flat_params() { return flat_params_; }
  Tensor& flat_grads() { return flat_grads_; }
  void zero_grads();

 private:
  std::vector<std::pair<std::string, Variable>> parameters_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::set<std::string> names_;  // of parameters and buffers, to refuse a second registration
  Tensor flat_params_, flat_grads_;
  Device device_ = Device::cpu();

  std::vector<std::string> load_impl(const TensorMap& tensors, const std::string& source,
                                     const std::function<bool(const std::string&)>& ignore,
                                     const std::function<bool(const std::string&)>& optional);
};

template <class Ignore, class Optional>
std::vector<std::string> ParameterStore::load(const TensorMap& tensors, const std::string& source, Ignore ignore,
                                              Optional optional) {
  return load_impl(tensors, source, ignore, optional);
}

}  // namespace sgml
