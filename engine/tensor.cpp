#include "engine/tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <malloc.h>
#include <unistd.h>

#include "engine/check.h"
#include "engine/gpu_memory.h"

namespace sgml {

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

int64_t shape_numel(const Shape& shape) {
  // Checked: shapes come from files (weights, .npy) and the command line, where a crafted dimension would make a
  // plain product wrap around and size a buffer far smaller than the tensor.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) SGML_FAIL("negative dimension in shape ", shape_str(shape));
    if (__builtin_mul_overflow(n, d, &n))
      SGML_FAIL("shape ", shape_str(shape), " has more than 2^63 elements");
  }
  return n;
}

size_t shape_nbytes(const Shape& shape, DType dtype) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(shape_numel(shape)), dtype_size(dtype), &bytes))
    SGML_FAIL("a ", dtype_name(dtype), " tensor of shape ", shape_str(shape), " needs more than 2^64 bytes");
  return bytes;
}

namespace {
// Physical memory of the machine; a host tensor larger than this cannot be used, whatever the allocator says
// (with overcommit it may "succeed" and the process dies later; sanitizers abort on it).
uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : UINT64_MAX;
}

std::string gib(uint64_t bytes) { return str_cat(double(bytes) / double(1ull << 30), " GiB"); }

// glibc hands allocations above its mmap threshold (128 KiB at first) to fresh pages from the kernel and gives
// freed heap memory back, so every training step paid for page faults on its activations: 23,000 faults (94 MB) per
// ResNet-18 step at 64 px, batch 32. Raising both thresholds (the mmap one to its 32 MiB maximum) lets freed blocks
// be reused from the heap; the process keeps its peak heap instead of returning it between steps.
void keep_freed_host_memory() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}
}  // namespace

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.is_cuda()) {
    data_ = gpu_alloc(bytes, device.index);
  } else {
    const uint64_t memory = physical_memory_bytes();
    if (bytes > memory - 64)
      SGML_FAIL("host allocation of ", bytes, " bytes (", gib(bytes), ") exceeds this machine's memory (", gib(memory),
                ")");
    keep_freed_host_memory();
    // 64-byte alignment for vector loads; aligned_alloc needs a multiple of the alignment.
    size_t rounded = (bytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!data_) SGML_FAIL("host allocation of ", bytes, " bytes (", gib(bytes), ") failed");
  }
}

Storage::~Storage() {
  if (device_.is_cuda())
    gpu_free(data_, bytes_, device_.index);
  else
    std::free(data_);
}

Tensor Tensor::empty(const Shape& shape, Device device, DType dtype) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(shape_nbytes(shape, dtype), device);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, Device device, DType dtype) {
  Tensor t = empty(shape, device, dtype);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, Device::cpu());
  t.fill_(value);
  return device.is_cuda() ? t.to(device) : t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  SGML_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), values.size(), " values for shape ",
             shape_str(shape));
  Tensor t = empty(shape, Device::cpu());
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return device.is_cuda() ? t.to(device) : t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  if (i < 0) i += n;
  SGML_CHECK(i >= 0 && i < n, "dimension ", i, " of a tensor of shape ", shape_str(shape_));
  return shape_[i];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::cpu(); }

float* Tensor::data() {
  SGML_CHECK(dtype_ == DType::F32, "float32 data of a ", dtype_name(dtype_), " tensor");
  return static_cast<float*>(raw_data());
}
const float* Tensor::data() const {
  SGML_CHECK(dtype_ == DType::F32, "float32 data of a ", dtype_name(dtype_), " tensor");
  return static_cast<const float*>(raw_data());
}
int64_t* Tensor::data_i64() {
  SGML_CHECK(dtype_ == DType::I64, "int64 data of a ", dtype_name(dtype_), " tensor");
  return static_cast<int64_t*>(raw_data());
}
const int64_t* Tensor::data_i64() const {
  SGML_CHECK(dtype_ == DType::I64, "int64 data of a ", dtype_name(dtype_), " tensor");
  return static_cast<const int64_t*>(raw_data());
}
void* Tensor::raw_data() const {
  SGML_CHECK(storage_, "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

Tensor Tensor::view(int64_t offset, const Shape& shape) const {
  check_defined(*this, "view");
  // Compared by subtraction: offset_ + offset + numel could overflow int64 for an offset near its limit.
  const int64_t room = static_cast<int64_t>(storage_->bytes() / dtype_size(dtype_)) - offset_;
  SGML_CHECK(offset >= 0 && offset <= room && shape_numel(shape) <= room - offset, "view at ", offset, " of shape ",
             shape_str(shape), " outside ", str());
  Tensor t = *this;
  t.offset_ = offset_ + offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::to(Device device) const {
  check_defined(*this, "Tensor::to");
  Tensor t = empty(shape_, device, dtype_);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  check_defined(*this, "copy_from destination");
  check_defined(src, "copy_from source");
  SGML_CHECK(src.numel() == numel() && src.dtype() == dtype_, "copy of ", src.str(), " into ", str());
  const size_t bytes = nbytes();
  if (bytes == 0) return;
  const Device d = device(), s = src.device();
  if (d.is_cpu() && s.is_cpu())
    std::memcpy(raw_data(), src.raw_data(), bytes);
  else if (d.is_cuda() && s.is_cpu())
    gpu_copy_host_to_device(raw_data(), src.raw_data(), bytes, d.index);
  else if (d.is_cpu() && s.is_cuda())
    gpu_copy_device_to_host(raw_data(), src.raw_data(), bytes, s.index);
  else {
    SGML_CHECK(d.index == s.index, "copies between two GPUs are not supported (", s.str(), " to ", d.str(), ")");
    gpu_copy_device_to_device(raw_data(), src.raw_data(), bytes, d.index);
  }
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined(*this, "reshape");
  Shape resolved = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      SGML_CHECK(infer < 0, "more than one -1 in reshape to ", shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      SGML_CHECK(shape[i] >= 0 && !__builtin_mul_overflow(known, shape[i], &known), "reshape of ", str(), " to ",
                 shape_str(shape));
    }
  }
  if (infer >= 0) {
    SGML_CHECK(known > 0 && numel() % known == 0, "reshape of ", str(), " to ", shape_str(shape));
    resolved[infer] = numel() / known;
  }
  SGML_CHECK(shape_numel(resolved) == numel(), "reshape of ", str(), " to ", shape_str(shape));
  Tensor t = *this;
  t.shape_ = resolved;
  return t;
}

void Tensor::zero_() {
  if (nbytes() == 0) return;
  if (is_cuda())
    gpu_memset_zero(raw_data(), nbytes(), device().index);
  else
    std::memset(raw_data(), 0, nbytes());
}

void Tensor::fill_(float value) {
  SGML_CHECK(dtype_ == DType::F32, "fill_ of a ", dtype_name(dtype_), " tensor");
  if (is_cuda()) {
    Tensor host = full(shape_, value, Device::cpu());
    copy_from(host);
    return;
  }
  float* p = data();
  const int64_t n = numel();
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

std::vector<float> Tensor::to_vector() const {
  check_defined(*this, "to_vector");
  std::vector<float> out(static_cast<size_t>(numel()));
  if (out.empty()) return out;
  if (is_cuda())
    gpu_copy_device_to_host(out.data(), data(), nbytes(), device().index);
  else
    std::memcpy(out.data(), data(), nbytes());
  return out;
}

float Tensor::item() const {
  SGML_CHECK(numel() == 1, "item() of a tensor of shape ", shape_str(shape_));
  return to_vector()[0];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return str_cat(dtype_name(dtype_), shape_str(shape_), " on ", device().str());
}

void check_shape(const Tensor& t, const Shape& expected, const char* what) {
  check_defined(t, what);
  if (t.shape() != expected) SGML_FAIL(what, ": expected shape ", shape_str(expected), ", got ", shape_str(t.shape()));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* what) {
  if (a.device() != b.device()) SGML_FAIL(what, ": tensors on different devices (", a.device().str(), " and ",
                                          b.device().str(), "); copy explicitly with to()");
}

void check_defined(const Tensor& t, const char* what) {
  if (!t.defined()) SGML_FAIL(what, ": undefined tensor");
}

}  // namespace sgml
