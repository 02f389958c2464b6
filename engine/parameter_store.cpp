#include "engine/parameter_store.h"

#include <set>

#include "engine/check.h"

namespace sgml {

Variable ParameterStore::add_parameter(const std::string& name, Tensor value) {
  SGML_CHECK(!flattened(), "parameter '", name, "' added after flatten()");
  SGML_CHECK(names_.insert(name).second, "parameter '", name, "' registered twice in the model");
  Variable v(std::move(value), /*requires_grad=*/true);
  parameters_.emplace_back(name, v);
  return v;
}

void ParameterStore::add_buffer(const std::string& name, Tensor* buffer) {
  SGML_CHECK(names_.insert(name).second, "buffer '", name, "' registered twice in the model");
  buffers_.emplace_back(name, buffer);
}

int64_t ParameterStore::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, v] : parameters_) n += v.value().numel();
  return n;
}

TensorMap ParameterStore::state_dict() const {
  TensorMap out;
  for (const auto& [name, v] : parameters_) out[name] = v.value();
  for (const auto& [name, b] : buffers_) out[name] = *b;
  return out;
}

std::vector<std::string> ParameterStore::load_impl(const TensorMap& tensors, const std::string& source,
                                                   const std::function<bool(const std::string&)>& ignore,
                                                   const std::function<bool(const std::string&)>& optional) {
  std::set<std::string> known;
  for (const auto& [name, v] : parameters_) known.insert(name);
  for (const auto& [name, b] : buffers_) known.insert(name);
  std::vector<std::string> unexpected, missing, absent;
  for (const auto& [name, t] : tensors)
    if (!known.count(name) && !ignore(name)) unexpected.push_back(name);
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < 8; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > 8) s += str_cat(", ... (", names.size(), " in all)");
    return s;
  };
  if (!unexpected.empty())
    SGML_FAIL("'", source, "': unexpected key(s) not in the model: ", list(unexpected),
              " (is this a checkpoint of another architecture?)");
  // Every key is checked before any is copied: a bad file leaves the model as it was.
  std::vector<std::pair<const Tensor*, Tensor*>> copies;  // (source, destination)
  auto check = [&](const std::string& name, Tensor& dst) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      (optional(name) ? absent : missing).push_back(name);
      return;
    }
    const Tensor& src = it->second;
    if (src.shape() != dst.shape())
      SGML_FAIL("'", source, "': key '", name, "' has shape ", shape_str(src.shape()), ", the model expects ",
                shape_str(dst.shape()));
    if (src.dtype() != dst.dtype())
      SGML_FAIL("'", source, "': key '", name, "' has dtype ", dtype_name(src.dtype()), ", the model expects ",
                dtype_name(dst.dtype()));
    copies.emplace_back(&src, &dst);
  };
  for (auto& [name, v] : parameters_) check(name, v.value());
  for (auto& [name, b] : buffers_) check(name, *b);
  if (!missing.empty()) SGML_FAIL("'", source, "': missing key(s): ", list(missing));
  for (auto& [src, dst] : copies) dst->copy_from(*src);
  return absent;
}

void ParameterStore::to(Device device) {
  for (auto& [name, v] : parameters_) v.value() = v.value().to(device);
  for (auto& [name, b] : buffers_)
    if (b->dtype() == DType::F32) *b = b->to(device);
  device_ = device;
  if (flattened()) {  // re-flatten on the new device
    flat_params_ = Tensor();
    flat_grads_ = Tensor();
    flatten();
  }
}

void ParameterStore::flatten() {
  const int64_t total = parameter_count();
  flat_params_ = Tensor::empty({total}, device_);
  flat_grads_ = Tensor::zeros({total}, device_);
  int64_t offset = 0;
  for (auto& [name, v] : parameters_) {
    const Shape shape = v.value().shape();
    Tensor view = flat_params_.view(offset, shape);
    view.copy_from(v.value());
    v.value() = view;
    v.set_grad_buffer(flat_grads_.view(offset, shape));
    offset += view.numel();
  }
}

int64_t ParameterStore::flat_offset_of(const std::string& name) const {
  int64_t offset = 0;
  for (const auto& [key, v] : parameters_) {
    if (key == name) return offset;
    offset += v.value().numel();
  }
  SGML_FAIL("no parameter '", name, "' in the model");
}

void ParameterStore::zero_grads() {
  if (flattened()) {
    flat_grads_.zero_();
    return;
  }
  for (auto& [name, v] : parameters_) const_cast<Variable&>(v).clear_grad();
}

}  // namespace sgml
