// Tensors: a shape, an element type, a device and shared storage. Always contiguous (row-major, NCHW for images).
// Copies between devices are explicit (to()); reshape shares storage.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace sgml {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& shape);
// The element count; an sgml::Error for a negative dimension or a count that does not fit in int64.
int64_t shape_numel(const Shape& shape);
// The bytes a tensor of `shape` and `dtype` takes; an sgml::Error where that does not fit in size_t.
size_t shape_nbytes(const Shape& shape, DType dtype);

// Owns one block of host or device memory. Move-only: a copy would be a hidden allocation.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised memory.
  static Tensor empty(const Shape& shape, Device device = Device::cpu(), DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, Device device = Device::cpu(), DType dtype = DType::F32);
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  // A CPU tensor holding `values` (size must equal the shape's element count), then moved to `device`.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }

  // Typed pointers; checks the element type. Device pointers for CUDA tensors.
  float* data();
  const float* data() const;
  int64_t* data_i64();
  const int64_t* data_i64() const;
  void* raw_data() const;
  // No other tensor (copy, reshape or view) refers to this storage: writing into it changes no one else's values.
  // (The tape is single-threaded; the count is exact there.)
  bool storage_unshared() const { return storage_ && storage_.use_count() == 1; }

  // Explicit copy to another device (a new tensor even when the device is the same).
  Tensor to(Device device) const;
  Tensor clone() const { return to(device()); }
  // Copies src's elements into this tensor (same element count and type; any devices).
  void copy_from(const Tensor& src);
  // Same storage, new shape with the same element count; one dimension may be -1.
  Tensor reshape(const Shape& shape) const;
  // A view of `shape` starting `offset` elements into this tensor's storage (e.g. one parameter inside a flat
  // buffer that the optimiser updates with one kernel).
  Tensor view(int64_t offset, const Shape& shape) const;
  void zero_();
  void fill_(float value);
  // Host copy of the values (float32 tensors).
  std::vector<float> to_vector() const;
  float item() const;  // the single value of a one-element tensor

  std::string str() const;  // "F32[2, 3] on cpu"

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::F32;
};

// Shape checks with messages that name the op and both shapes.
void check_shape(const Tensor& t, const Shape& expected, const char* what);
void check_same_device(const Tensor& a, const Tensor& b, const char* what);
void check_defined(const Tensor& t, const char* what);

}  // namespace sgml
